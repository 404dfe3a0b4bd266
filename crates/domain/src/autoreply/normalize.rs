//! Text normalisation for keyword matching: case- and accent-insensitive, in any script.
//!
//! [`normalize`] applies, char by char: compatibility decomposition (NFKD: full-width forms,
//! ligatures and superscripts become plain letters; Hangul syllables are kept whole),
//! lowercasing, removal of diacritics, `ß` → `ss`, recomposition of the marks that are
//! kept with the letter before them (as NFC would: `か` + `゙` → `が`), whitespace runs → one
//! space, trimmed. Keywords and messages go through the same function, so `Préço` matches
//! `preco`, `ＡＢＣ` matches `abc`, `أهلا` matches `اهلا`.
//!
//! Diacritics removed are the combining marks of the generic diacritic blocks (Latin,
//! Greek, Cyrillic accents), Hebrew points and Arabic harakat, hamza marks and tatweel.
//! Marks that carry meaning are kept: Indic vowel signs (Devanagari matras), Thai vowels,
//! and the Japanese voicing marks (`が` stays distinct from `か`).
//!
//! Word boundaries ([`Matcher::ContainsWord`](super::Matcher::ContainsWord)): a word must
//! not continue into a letter, digit or mark on either side. This holds at the edges of a
//! keyword written in a script that separates words with spaces (Latin, Greek, Cyrillic,
//! Arabic, Hebrew, Indic scripts, …). At an edge written in Han, Hiragana, Katakana,
//! Hangul, Thai, Lao, Khmer, Myanmar or Tibetan no boundary is required: those scripts
//! write words without spaces (or, in Korean, attach particles to them), so `价格` matches
//! `这个价格多少`, `가격` matches `가격은`.

use unicode_normalization::char::{compose, decompose_compatible, is_combining_mark};

/// The normalised form of `s` (see the module docs).
#[must_use]
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    normalize_into(s, &mut out);
    out
}

/// [`normalize`] into a reused buffer (cleared first).
pub fn normalize_into(s: &str, out: &mut String) {
    out.clear();
    if s.is_ascii() {
        let mut space = false;
        for b in s.bytes() {
            if b.is_ascii_whitespace() {
                space = !out.is_empty();
            } else {
                if space {
                    out.push(' ');
                    space = false;
                }
                out.push(char::from(b.to_ascii_lowercase()));
            }
        }
        return;
    }
    let mut w = Writer { out, space: false };
    for c in s.chars() {
        if c.is_ascii() {
            w.push(c.to_ascii_lowercase());
        } else if ('\u{AC00}'..='\u{D7A3}').contains(&c) {
            // Hangul syllables: no case, no accents; kept whole.
            w.push(c);
        } else {
            decompose_compatible(c, |d| {
                for l in d.to_lowercase() {
                    if l == 'ß' {
                        w.push('s');
                        w.push('s');
                    } else if !is_diacritic(l) {
                        w.push(l);
                    }
                }
            });
        }
    }
}

/// Appends folded chars: collapses whitespace and recomposes a kept mark with the char
/// before it (`か` + `゙` → `が`), which is what NFC does for such text.
struct Writer<'a> {
    out: &'a mut String,
    space: bool,
}

impl Writer<'_> {
    fn push(&mut self, c: char) {
        if c.is_whitespace() {
            self.space = !self.out.is_empty();
            return;
        }
        if self.space {
            self.out.push(' ');
            self.space = false;
        } else if (is_combining_mark(c) || ('\u{1160}'..='\u{11FF}').contains(&c))
            && let Some(composed) = self.out.chars().next_back().and_then(|p| compose(p, c))
        {
            self.out.pop();
            self.out.push(composed);
            return;
        }
        self.out.push(c);
    }
}

/// Whether `c` is a diacritic removed by normalisation.
#[must_use]
pub fn is_diacritic(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'   // combining diacritical marks
        | '\u{1AB0}'..='\u{1AFF}' // … extended
        | '\u{1DC0}'..='\u{1DFF}' // … supplement
        | '\u{20D0}'..='\u{20FF}' // … for symbols
        | '\u{FE20}'..='\u{FE2F}' // combining half marks
        | '\u{0483}'..='\u{0489}' // Cyrillic combining marks
        | '\u{0591}'..='\u{05BD}' | '\u{05BF}' | '\u{05C1}'..='\u{05C2}' | '\u{05C4}'..='\u{05C5}' | '\u{05C7}' // Hebrew points
        | '\u{0610}'..='\u{061A}' | '\u{064B}'..='\u{065F}' | '\u{0670}' // Arabic harakat, hamza marks
        | '\u{06D6}'..='\u{06DC}' | '\u{06DF}'..='\u{06E4}' | '\u{06E7}'..='\u{06E8}' | '\u{06EA}'..='\u{06ED}'
        | '\u{08D3}'..='\u{08FF}' // Arabic extended-A marks
        | '\u{0640}'              // Arabic tatweel
    )
}

/// Whether `c` continues a word: a letter, digit or combining mark.
#[must_use]
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c) || c == '_'
}

/// Whether `c` belongs to a script written without spaces between words (or, for Hangul,
/// with particles attached), where a keyword matches inside a longer run of letters.
#[must_use]
pub fn is_spaceless_script(c: char) -> bool {
    matches!(c,
        '\u{0E00}'..='\u{0EFF}'     // Thai, Lao
        | '\u{0F00}'..='\u{0FFF}'   // Tibetan
        | '\u{1000}'..='\u{109F}'   // Myanmar
        | '\u{1100}'..='\u{11FF}'   // Hangul jamo
        | '\u{1780}'..='\u{17FF}'   // Khmer
        | '\u{19E0}'..='\u{19FF}'   // Khmer symbols
        | '\u{2E80}'..='\u{2FDF}'   // CJK radicals
        | '\u{3000}'..='\u{303F}'   // CJK symbols
        | '\u{3040}'..='\u{30FF}'   // Hiragana, Katakana
        | '\u{3130}'..='\u{318F}'   // Hangul compatibility jamo
        | '\u{31F0}'..='\u{31FF}'   // Katakana extensions
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{A960}'..='\u{A97F}'   // Hangul jamo extended-A
        | '\u{AC00}'..='\u{D7FF}'   // Hangul syllables, jamo extended-B
        | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
        | '\u{FF66}'..='\u{FFDC}'   // half-width Katakana, Hangul
        | '\u{20000}'..='\u{3FFFF}' // CJK extensions B…
    )
}

/// Whether a keyword edge at `c` must sit on a word boundary.
#[must_use]
pub fn needs_boundary(c: char) -> bool {
    is_word_char(c) && !is_spaceless_script(c)
}

/// The text an exact match compares: normalised, without leading or trailing punctuation
/// (`"¡Hola!!"` → `"hola"`); a text of punctuation only stays as it is (`"?"`), and
/// symbols and emoji are kept (`"👍"`).
#[must_use]
pub fn exact_form(normalized: &str) -> &str {
    let trimmed = normalized.trim_matches(is_edge_punctuation);
    if trimmed.is_empty() { normalized } else { trimmed }
}

fn is_edge_punctuation(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || matches!(c, '¡' | '¿' | '…' | '«' | '»' | '“' | '”' | '‘' | '’' | '。' | '、' | '؟' | '،' | '।' | '¶')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_and_compatibility_forms() {
        assert_eq!(normalize("  Préço   DA  Café "), "preco da cafe");
        assert_eq!(normalize("ＡＢＣ ﬁne"), "abc fine");
        assert_eq!(normalize("Straße"), "strasse");
        assert_eq!(normalize("ÀÉÎÕÜ ñ ç"), "aeiou n c");
        assert_eq!(normalize("İstanbul"), "istanbul");
        assert_eq!(normalize("ΚΑΛΗΜΈΡΑ"), "καλημερα");
    }

    #[test]
    fn arabic_loses_harakat_and_hamza_marks() {
        assert_eq!(normalize("أَهْلاً"), normalize("اهلا"));
        assert_eq!(normalize("مرحـــبا"), "مرحبا");
    }

    #[test]
    fn meaningful_marks_stay() {
        // Devanagari matras, Japanese voicing, Hangul syllables survive.
        assert_eq!(normalize("नमस्ते"), "नमस्ते");
        assert_ne!(normalize("が"), normalize("か"));
        assert_eq!(normalize("가격"), "가격");
    }

    #[test]
    fn composed_and_decomposed_input_agree() {
        assert_eq!(normalize("か\u{3099}"), normalize("が"));
        assert_eq!(normalize("e\u{301}"), "e");
        assert_eq!(normalize("\u{1100}\u{1161}"), "가");
    }

    proptest::proptest! {
        #[test]
        fn canonical_form_of_the_input_does_not_matter(s in "[a-zA-Zà-öø-ÿĀ-žΑ-ωА-яか-ゔ가-힣अ-ह ]{0,30}") {
            use unicode_normalization::UnicodeNormalization;
            let nfd: String = s.nfd().collect();
            let nfc: String = s.nfc().collect();
            proptest::prop_assert_eq!(normalize(&nfd), normalize(&nfc));
            proptest::prop_assert_eq!(normalize(&normalize(&s)), normalize(&s));
        }
    }

    #[test]
    fn exact_form_trims_punctuation() {
        assert_eq!(exact_form("¡hola!"), "hola");
        assert_eq!(exact_form("...ok?"), "ok");
        assert_eq!(exact_form("👍"), "👍");
        assert_eq!(exact_form("?"), "?");
        assert_eq!(exact_form(&normalize("¿Cuánto cuesta?")), "cuanto cuesta");
    }
}
