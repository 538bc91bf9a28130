//! Lenient version comparison.
//!
//! Release teams write versions many ways: `v1.4`, `1.4.0`, `2026.11.2`,
//! `1.4.0-rc.1`, `1.4.0+build.7`. Versions that parse compare by number part
//! by part (missing parts count as zero), pre-releases sort before their
//! release (semver rules for identifiers), build metadata is ignored.
//! Versions that do not parse are equal only to themselves and never ordered.

use std::cmp::Ordering;

/// A version read without allocating: it borrows the string it was read
/// from (comparisons run for every cell on every judgement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version<'a> {
    Parsed(Parsed<'a>),
    /// Kept verbatim (trimmed); equal only to the identical string.
    Opaque(&'a str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed<'a> {
    /// At most four number parts; missing ones count as zero.
    numbers: [u64; 4],
    /// The pre-release identifiers (`rc.1`), already checked.
    pre: Option<&'a str>,
}

/// Order of two pre-release identifiers (semver): numbers by value, before
/// any alphanumeric one; alphanumeric ones by their bytes.
fn cmp_ident(a: &str, b: &str) -> Ordering {
    match (numeric(a), numeric(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

fn numeric(id: &str) -> Option<u64> {
    if id.bytes().all(|b| b.is_ascii_digit()) { id.parse().ok() } else { None }
}

/// Identifier by identifier; a shorter list that agrees so far sorts first.
fn cmp_pre(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.split('.'), b.split('.'));
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match cmp_ident(x, y) {
                Ordering::Equal => {}
                o => return o,
            },
        }
    }
}

impl Parsed<'_> {
    fn cmp_parsed(&self, other: &Parsed<'_>) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| match (self.pre, other.pre) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => cmp_pre(a, b),
        })
    }
}

impl<'a> Version<'a> {
    fn parse(raw: &'a str) -> Version<'a> {
        // Trimming reads Unicode; most versions have nothing to trim.
        let plain = |b: Option<&u8>| b.is_some_and(u8::is_ascii_graphic);
        let raw = if plain(raw.as_bytes().first()) && plain(raw.as_bytes().last()) { raw } else { raw.trim() };
        parse_lenient(raw).map_or(Version::Opaque(raw), Version::Parsed)
    }

    /// Order of two versions, or `None` when they cannot be compared
    /// (one or both did not parse and they are not identical).
    fn compare(&self, other: &Version<'_>) -> Option<Ordering> {
        match (self, other) {
            (Version::Parsed(a), Version::Parsed(b)) => Some(a.cmp_parsed(b)),
            (Version::Opaque(a), Version::Opaque(b)) if a == b => Some(Ordering::Equal),
            _ => None,
        }
    }
}

/// Two version strings name the same version (`v1.4` == `1.4.0`).
pub fn same(a: &str, b: &str) -> bool {
    // The common case, spelled alike, needs no reading.
    a == b || compare(a, b) == Some(Ordering::Equal)
}

/// Order of two version strings, `None` when not comparable.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Version::parse(a).compare(&Version::parse(b))
}

fn parse_lenient(s: &str) -> Option<Parsed<'_>> {
    // One pass over the bytes: `v`, up to four numbers joined by dots, then
    // a pre-release after `-` up to any build metadata after `+` (which
    // never affects precedence).
    let bytes = s.as_bytes();
    let mut i = usize::from(matches!(bytes.first(), Some(b'v' | b'V')));
    let mut numbers = [0u64; 4];
    let mut part = 0;
    loop {
        let start = i;
        let mut value: u64 = 0;
        while let Some(d) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            i += 1;
        }
        if i == start || i - start > 19 || part >= numbers.len() {
            return None;
        }
        numbers[part] = value;
        part += 1;
        match bytes.get(i) {
            Some(b'.') => i += 1,
            None | Some(b'-' | b'+') => break,
            Some(_) => return None,
        }
    }
    let pre = match bytes.get(i) {
        Some(b'-') => {
            let rest = &s[i + 1..];
            let pre = rest.split_once('+').map_or(rest, |(head, _)| head);
            for id in pre.split('.') {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return None;
                }
                // A numeric identifier too big for a number does not parse.
                if id.bytes().all(|b| b.is_ascii_digit()) && id.parse::<u64>().is_err() {
                    return None;
                }
            }
            Some(pre)
        }
        _ => None,
    };
    Some(Parsed { numbers, pre })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn leading_v_and_missing_parts() {
        assert!(same("v1.4", "1.4.0"));
        assert!(same("1.4.0.0", "1.4"));
        assert!(same("1.4.0+build.9", "1.4.0"));
        assert!(!same("1.4.1", "1.4.0"));
    }

    #[test]
    fn numeric_not_lexical() {
        assert_eq!(compare("1.10.0", "1.9.3"), Some(Ordering::Greater));
        assert_eq!(compare("2026.11.2", "2026.9.14"), Some(Ordering::Greater));
    }

    #[test]
    fn prerelease_before_release() {
        assert_eq!(compare("1.4.0-rc.1", "1.4.0"), Some(Ordering::Less));
        assert_eq!(compare("1.4.0-rc.2", "1.4.0-rc.10"), Some(Ordering::Less));
        assert_eq!(compare("1.4.0-alpha", "1.4.0-alpha.1"), Some(Ordering::Less));
        assert_eq!(compare("1.4.0-1", "1.4.0-alpha"), Some(Ordering::Less));
    }

    #[test]
    fn opaque_is_equal_only_to_itself() {
        assert_eq!(compare("main-abc123", "main-abc123"), Some(Ordering::Equal));
        assert_eq!(compare("main-abc123", "main-def456"), None);
        assert_eq!(compare("main-abc123", "1.0.0"), None);
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(0u64..30, 1..=4),
            proptest::option::of(proptest::collection::vec(
                prop_oneof![(0u64..5).prop_map(|n| n.to_string()), "[a-c]{1,3}"],
                1..3,
            )),
            any::<bool>(),
        )
            .prop_map(|(nums, pre, v)| {
                let mut s = if v { "v".to_string() } else { String::new() };
                s.push_str(&nums.iter().map(u64::to_string).collect::<Vec<_>>().join("."));
                if let Some(pre) = pre {
                    s.push('-');
                    s.push_str(&pre.join("."));
                }
                s
            })
    }

    proptest! {
        #[test]
        fn total_order_on_parseable(a in version_strategy(), b in version_strategy(), c in version_strategy()) {
            let ab = compare(&a, &b).unwrap();
            let ba = compare(&b, &a).unwrap();
            prop_assert_eq!(ab, ba.reverse());
            let bc = compare(&b, &c).unwrap();
            if ab != Ordering::Greater && bc != Ordering::Greater {
                prop_assert_ne!(compare(&a, &c).unwrap(), Ordering::Greater);
            }
        }
    }

    /// The reading before it stopped allocating, kept as the oracle: the
    /// two must agree on every pair.
    mod reference {
        use std::cmp::Ordering;

        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Version {
            Parsed(Parsed),
            /// Kept verbatim; equal only to the identical string.
            Opaque(String),
        }

        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Parsed {
            numbers: Vec<u64>,
            pre: Vec<Ident>,
        }

        #[derive(Debug, Clone, PartialEq, Eq)]
        enum Ident {
            Numeric(u64),
            Alpha(String),
        }

        impl Ord for Ident {
            fn cmp(&self, other: &Self) -> Ordering {
                match (self, other) {
                    (Ident::Numeric(a), Ident::Numeric(b)) => a.cmp(b),
                    (Ident::Numeric(_), Ident::Alpha(_)) => Ordering::Less,
                    (Ident::Alpha(_), Ident::Numeric(_)) => Ordering::Greater,
                    (Ident::Alpha(a), Ident::Alpha(b)) => a.cmp(b),
                }
            }
        }

        impl PartialOrd for Ident {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Parsed {
            fn cmp_parsed(&self, other: &Parsed) -> Ordering {
                let len = self.numbers.len().max(other.numbers.len());
                for i in 0..len {
                    let a = self.numbers.get(i).copied().unwrap_or(0);
                    let b = other.numbers.get(i).copied().unwrap_or(0);
                    match a.cmp(&b) {
                        Ordering::Equal => {}
                        o => return o,
                    }
                }
                match (self.pre.is_empty(), other.pre.is_empty()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    (false, false) => self.pre.cmp(&other.pre),
                }
            }
        }

        impl Version {
            pub fn parse(raw: &str) -> Version {
                parse_lenient(raw.trim()).map_or_else(|| Version::Opaque(raw.trim().to_string()), Version::Parsed)
            }

            /// Order of two versions, or `None` when they cannot be compared
            /// (one or both did not parse and they are not identical).
            pub fn compare(&self, other: &Version) -> Option<Ordering> {
                match (self, other) {
                    (Version::Parsed(a), Version::Parsed(b)) => Some(a.cmp_parsed(b)),
                    (Version::Opaque(a), Version::Opaque(b)) if a == b => Some(Ordering::Equal),
                    _ => None,
                }
            }
        }

        fn parse_lenient(s: &str) -> Option<Parsed> {
            let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
            // Build metadata never affects precedence.
            let s = s.split_once('+').map_or(s, |(head, _)| head);
            let (core, pre) = match s.split_once('-') {
                Some((core, pre)) => (core, Some(pre)),
                None => (s, None),
            };
            let parts: Vec<&str> = core.split('.').collect();
            if parts.is_empty() || parts.len() > 4 {
                return None;
            }
            let mut numbers = Vec::with_capacity(parts.len());
            for part in parts {
                if part.is_empty() || part.len() > 19 || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                numbers.push(part.parse().ok()?);
            }
            let pre = match pre {
                None => Vec::new(),
                Some(pre) => {
                    let mut idents = Vec::new();
                    for id in pre.split('.') {
                        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                            return None;
                        }
                        if id.bytes().all(|b| b.is_ascii_digit()) {
                            idents.push(Ident::Numeric(id.parse().ok()?));
                        } else {
                            idents.push(Ident::Alpha(id.to_string()));
                        }
                    }
                    idents
                }
            };
            Some(Parsed { numbers, pre })
        }
    }

    fn any_version() -> impl Strategy<Value = String> {
        prop_oneof![
            version_strategy(),
            "[ vV]?[0-9]{1,3}(\\.[0-9]{1,3}){0,5}(-[a-z0-9.-]{0,6})?(\\+[a-z0-9.]{0,4})? ?",
            "[a-z0-9.+-]{0,8}",
            "[0-9]{18,22}\\.1",
            "1\\.0-[0-9]{19,22}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]
        #[test]
        fn agrees_with_the_allocating_reading(a in any_version(), b in any_version()) {
            let expected = reference::Version::parse(&a).compare(&reference::Version::parse(&b));
            prop_assert_eq!(compare(&a, &b), expected);
            prop_assert_eq!(same(&a, &b), expected == Some(Ordering::Equal));
        }
    }
}
