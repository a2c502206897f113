//! What the widget shows, computed without the DOM where it can be.

mod cldr;

pub use cldr::{CURRENCIES, REGIONS};

/// The amount as the customer reads it in their own locale, e.g. `CHF 1'234.50`,
/// `1.234,50 €`, `1 234,50 €`: Chromium's `Intl.NumberFormat` for that locale, from
/// a table (`cldr.rs`) instead of a call. A page's first `Intl.NumberFormat` starts
/// ICU: 19–105 ms (median 44) of the customer's main thread on the bench machine.
///
/// `amount` is the API's exact decimal string with the currency's fraction digits
/// (`"1234.50"`, `"5"` yen, `"1.250"` dinars); it is regrouped, never passed through
/// a float. `lang` is one the widget speaks (else English), `region` an ISO 3166 code
/// or `""`; a region outside [`REGIONS`] reads amounts its language's own way.
pub fn format_amount(amount: &str, currency: &str, lang: &str, region: &str) -> String {
    let as_given = || [currency, "\u{a0}", amount].concat();
    let pattern = variant(lang, region)
        .or_else(|| variant("en", region))
        .zip(CURRENCIES.iter().position(|c| *c == currency))
        .and_then(|(v, at)| Some((v.groups_from, piece(v.patterns, b';', at)?)));
    let (Some((groups_from, pattern)), Some(digits)) = (pattern, Digits::of(amount)) else {
        return as_given();
    };
    let (prefix, group, decimal, suffix) = (
        piece(pattern, b'|', 0).unwrap_or_default(),
        piece(pattern, b'|', 1).unwrap_or_default(),
        piece(pattern, b'|', 2).unwrap_or_default(),
        piece(pattern, b'|', 3).unwrap_or_default(),
    );
    let int = digits.int;
    let mut out = String::with_capacity(amount.len() + 16);
    out.push_str(prefix);
    for (i, digit) in int.iter().enumerate() {
        if int.len() >= groups_from && i > 0 && (int.len() - i) % 3 == 0 {
            out.push_str(group);
        }
        out.push(char::from(*digit));
    }
    if !digits.frac.is_empty() {
        out.push_str(decimal);
        out.extend(digits.frac.iter().map(|d| char::from(*d)));
    }
    out.push_str(suffix);
    out
}

/// An amount's integer and fraction digits (`"1234.50"` → `1234`, `50`); `None` for
/// anything else. Bytes, not `str` slices: a `str` slice's panic path would link
/// char-boundary formatting into the wasm.
struct Digits<'a> {
    int: &'a [u8],
    frac: &'a [u8],
}

impl Digits<'_> {
    fn of(amount: &str) -> Option<Digits<'_>> {
        let bytes = amount.as_bytes();
        let dot = bytes.iter().position(|b| *b == b'.');
        let (int, frac) = match dot {
            Some(at) => (bytes.get(..at)?, bytes.get(at + 1..)?),
            None => (bytes, &[][..]),
        };
        let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
        (!int.is_empty() && digits(int) && digits(frac)).then_some(Digits { int, frac })
    }
}

/// The `n`th `sep`-separated piece of `s` (byte loops: `str::split`'s searcher would
/// cost the wasm more than this whole module).
fn piece(s: &str, sep: u8, n: usize) -> Option<&str> {
    let mut start = 0;
    let mut seen = 0;
    for (i, b) in s.bytes().enumerate().chain([(s.len(), sep)]) {
        if b == sep {
            if seen == n {
                return s.get(start..i);
            }
            seen += 1;
            start = i + 1;
        }
    }
    None
}

/// The language's entry that lists `region`, else its own.
fn variant(lang: &str, region: &str) -> Option<&'static cldr::Variant> {
    let ours = || cldr::VARIANTS.iter().filter(move |v| v.lang == lang);
    ours()
        .find(|v| v.regions.contains(&region))
        .or_else(|| ours().find(|v| v.regions.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `format_amount` for a tag such as `de-CH` (the browser test does the same).
    fn fmt(amount: &str, currency: &str, tag: &str) -> String {
        let (lang, region) = tag.split_once('-').unwrap_or((tag, ""));
        format_amount(amount, currency, lang, region)
    }

    #[test]
    fn groups_from_the_right_with_the_locales_separators() {
        assert_eq!(fmt("1234.50", "CHF", "de-CH"), "CHF\u{a0}1'234.50");
        assert_eq!(fmt("1234.50", "EUR", "de-DE"), "1.234,50\u{a0}€");
        assert_eq!(
            fmt("1234567.50", "EUR", "fr"),
            "1\u{202f}234\u{202f}567,50\u{a0}€"
        );
        assert_eq!(fmt("999.00", "USD", "en-US"), "$999.00");
        assert_eq!(fmt("5", "JPY", "de"), "5\u{a0}¥");
        assert_eq!(fmt("1.250", "KWD", "en-US"), "KWD\u{a0}1.250");
        // Beyond float precision: regrouped from the string.
        assert_eq!(
            fmt("90071992547409.93", "USD", "en-US"),
            "$90,071,992,547,409.93"
        );
    }

    #[test]
    fn italian_groups_from_five_digits() {
        assert_eq!(fmt("1234.00", "EUR", "it"), "1234,00\u{a0}€");
        assert_eq!(fmt("12345.00", "EUR", "it-IT"), "12.345,00\u{a0}€");
    }

    #[test]
    fn other_regions_read_their_language_and_other_languages_english() {
        assert_eq!(fmt("1234.50", "EUR", "de-NL"), fmt("1234.50", "EUR", "de"));
        assert_eq!(fmt("1234.50", "EUR", "es-ES"), fmt("1234.50", "EUR", "en"));
    }

    #[test]
    fn pieces_are_cut_at_their_separator() {
        assert_eq!(piece("a|bc||d", b'|', 0), Some("a"));
        assert_eq!(piece("a|bc||d", b'|', 1), Some("bc"));
        assert_eq!(piece("a|bc||d", b'|', 2), Some(""));
        assert_eq!(piece("a|bc||d", b'|', 3), Some("d"));
        assert_eq!(piece("a|bc||d", b'|', 4), None);
        assert_eq!(piece("", b'|', 0), Some(""));
    }

    #[test]
    fn what_is_not_an_amount_or_a_currency_we_take_is_shown_as_given() {
        assert_eq!(fmt("12.50", "XTS", "de-CH"), "XTS\u{a0}12.50");
        assert_eq!(fmt("1e3", "CHF", "de-CH"), "CHF\u{a0}1e3");
        assert_eq!(fmt(".5", "CHF", "de-CH"), "CHF\u{a0}.5");
        assert_eq!(fmt("", "CHF", "en"), "CHF\u{a0}");
    }

    #[test]
    fn every_currency_we_take_has_a_pattern_in_every_language() {
        let codes: Vec<String> = shared::money::Currency::ALL
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(codes, CURRENCIES);
        for lang in ["en", "de", "fr", "it", "ru"] {
            assert!(variant(lang, "").is_some(), "{lang}");
        }
    }
}
