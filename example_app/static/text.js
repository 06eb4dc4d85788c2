// Wire values shown safely: as text (never HTML), cut to a width, with what the eye cannot see
// written out. `ali\u200bce` reads `ali⟨U+200B⟩ce`, `user\u202Egnp.exe` reads
// `user⟨U+202E⟩gnp.exe`: a look-alike cannot pass for the real account.
"use strict";

// Control and format characters (zero-width, bidi overrides and isolates, BOM, tags),
// separators other than the plain space, unpaired surrogates, private-use and unassigned code
// points, and the blank look-alikes (no-break, ideographic and Hangul filler spaces, braille
// blank).
const HIDDEN =
  /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000\u115F\u1160\u3164\uFFA0\u034F\u180E\u2800]/u;
const MARK = /\p{M}/u;
// More combining marks than this on one letter are written as a count (no Zalgo towers).
const MAX_MARKS = 2;

export function codePoint(char) {
  return "U+" + char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
}

// The text as pieces: [kind, text], kind "text" or "mark" (a hidden character, or a run of
// stacked combining marks, written out).
export function pieces(value) {
  const chars = Array.from(String(value ?? ""));
  const out = [];
  let plain = "";
  let marks = 0;
  const flush = () => {
    if (plain) out.push(["text", plain]);
    plain = "";
  };
  chars.forEach((char, index) => {
    const edgeSpace = char === " " && (index === 0 || index === chars.length - 1);
    if (HIDDEN.test(char) || edgeSpace) {
      flush();
      out.push(["mark", "⟨" + codePoint(char) + "⟩"]);
      marks = 0;
      return;
    }
    if (MARK.test(char)) {
      marks += 1;
      if (marks > MAX_MARKS) {
        // Counted onto the mark piece that follows the kept ones.
        const last = out[out.length - 1];
        if (!plain && last && last[0] === "mark" && last[1].startsWith("⟨+")) {
          const count = Number(last[1].slice(2, -7)) + 1;
          last[1] = "⟨+" + count + " marks⟩";
        } else {
          flush();
          out.push(["mark", "⟨+1 marks⟩"]);
        }
        return;
      }
    } else {
      marks = 0;
    }
    plain += char;
  });
  flush();
  return out;
}

// The whole text with its hidden characters written out: for a title or a copy.
export function spelled(value) {
  return pieces(value)
    .map(([, text]) => text)
    .join("");
}

// Whether the text holds anything written out.
export function hasHidden(value) {
  return pieces(value).some(([kind]) => kind === "mark");
}

// A <span class="value"> of the text, at most `max` characters shown (written-out marks count
// at their shown length), the rest cut with "…"; the whole text, spelled out, on hover.
export function valueElement(value, max = Infinity, className = "") {
  const text = String(value ?? "");
  const node = document.createElement("span");
  node.className = "value" + (className ? " " + className : "");
  let room = max;
  let cut = false;
  for (const [kind, piece] of pieces(text)) {
    if (room <= 0) {
      cut = true;
      break;
    }
    let shown = piece;
    if (kind === "text") {
      const chars = Array.from(piece);
      if (chars.length > room) {
        shown = chars.slice(0, room).join("");
        cut = true;
      }
      room -= Array.from(shown).length;
      node.append(document.createTextNode(shown));
      if (cut) break;
    } else {
      room -= piece.length;
      const mark = document.createElement("span");
      mark.className = "hidden-char";
      mark.textContent = piece;
      node.append(mark);
    }
  }
  if (cut) {
    const more = document.createElement("span");
    more.className = "cut";
    more.textContent = "…";
    node.append(more);
    node.classList.add("is-cut");
  }
  if (hasHidden(text)) node.classList.add("has-hidden");
  const title = spelled(text);
  // A title of many kilobytes helps nobody: the details view shows it all.
  node.title = title.length > 600 ? title.slice(0, 600) + "… (" + text.length + " characters)" : title;
  return node;
}

// Bytes of the text in UTF-8 (Tencent's unit for account and remark limits).
export function utf8Length(value) {
  return new TextEncoder().encode(String(value ?? "")).length;
}

// Lower-cases ASCII letters only, as SQLite's LIKE compares: the live filter matches what the
// server's search returns.
export function asciiLower(value) {
  return String(value ?? "").replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

function pad(number) {
  return String(number).padStart(2, "0");
}

// "2026-12-02" and "12:01:03", in the browser's time zone.
export function dateAndTime(ms) {
  const when = new Date(ms);
  return [
    when.getFullYear() + "-" + pad(when.getMonth() + 1) + "-" + pad(when.getDate()),
    pad(when.getHours()) + ":" + pad(when.getMinutes()) + ":" + pad(when.getSeconds()),
  ];
}
