//! Text from a source is data: nothing it carries may drive the terminal.
//!
//! Every string that crosses from a source (a version, an error body, a
//! header) goes through [`clean`] before it is stored, so neither the screen
//! nor `check` output ever carries escape sequences, C0/C1 controls or bidi
//! overrides from the outside world.

/// Longest string kept from a source; longer values are cut with an ellipsis.
pub const MAX_LEN: usize = 256;

/// Strip terminal control sequences, control characters and bidi controls,
/// collapse runs of whitespace, and cap the length at [`MAX_LEN`] characters.
pub fn clean(input: &str) -> String {
    clean_to(input, MAX_LEN)
}

/// As [`clean`], with an explicit cap on the number of characters kept.
pub fn clean_to(input: &str, max_chars: usize) -> String {
    // Most of what sources send (versions, builds, hashes) is printable
    // ASCII without spaces: nothing to strip, collapse or trim.
    if input.len() <= max_chars && input.bytes().all(|b| b.is_ascii_graphic()) {
        return input.to_owned();
    }
    let mut out = String::with_capacity(input.len().min(max_chars));
    let mut chars = input.chars().peekable();
    let mut kept = 0usize;
    let mut last_space = true; // trims leading whitespace
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            skip_escape(&mut chars);
            continue;
        }
        if c == '\u{9b}' {
            // C1 CSI: parameters then a final byte.
            skip_csi(&mut chars);
            continue;
        }
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                kept += 1;
                last_space = true;
            }
            continue;
        }
        if c.is_control() || is_bidi_control(c) || is_invisible_format(c) {
            continue;
        }
        if kept >= max_chars {
            // Drop the trailing space we may have pushed, mark the cut.
            if out.ends_with(' ') {
                out.pop();
            }
            out.push('…');
            return out;
        }
        out.push(c);
        kept += 1;
        last_space = false;
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => skip_csi(chars),
        // OSC, DCS, SOS, PM, APC: string terminated by BEL or ESC \.
        Some(']' | 'P' | 'X' | '^' | '_') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' || c == '\u{9c}' {
                    break;
                }
                if c == '\u{1b}' {
                    if chars.peek() == Some(&'\\') {
                        chars.next();
                    }
                    break;
                }
            }
        }
        // Two-character sequences (ESC 7, ESC c, ESC ( B ...): drop one more
        // intermediate if present.
        Some('(' | ')' | '*' | '+' | '#' | '%') => {
            chars.next();
        }
        _ => {}
    }
}

fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            break;
        }
        if !('\u{20}'..='\u{3f}').contains(&c) {
            // Not a CSI byte: the sequence is malformed, stop here.
            break;
        }
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200d}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strips_csi_osc_and_controls() {
        assert_eq!(clean("\u{1b}[31m1.2.3\u{1b}[0m"), "1.2.3");
        assert_eq!(clean("\u{1b}]0;owned\u{7}v2"), "v2");
        assert_eq!(clean("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\"), "link");
        assert_eq!(clean("a\u{7}b\u{8}c\rd"), "abc d");
        assert_eq!(clean("\u{9b}2J1.0"), "1.0");
    }

    #[test]
    fn strips_bidi_overrides_and_collapses_space() {
        assert_eq!(clean("1.0\u{202e}0.2"), "1.00.2");
        assert_eq!(clean("  a \n\t b  "), "a b");
    }

    #[test]
    fn caps_length() {
        let long = "x".repeat(1000);
        let cut = clean_to(&long, 10);
        assert_eq!(cut.chars().count(), 11);
        assert!(cut.ends_with('…'));
    }

    proptest! {
        /// The shortcut for plain ASCII gives what the full pass gives.
        #[test]
        fn printable_ascii_is_kept_as_the_full_pass_would(s in "[!-~]{0,20}", cap in 0usize..24) {
            // A space in front takes the full pass, which trims it.
            prop_assert_eq!(clean_to(&s, cap), clean_to(&format!(" {s}"), cap));
        }

        #[test]
        fn never_emits_controls(s in any::<String>()) {
            let out = clean(&s);
            prop_assert!(!out.chars().any(|c| c.is_control() || is_bidi_control(c)));
            prop_assert!(out.chars().count() <= MAX_LEN + 1);
        }
    }
}
