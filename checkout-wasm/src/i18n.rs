//! The customer's language. Every string the widget shows lives in one plain table per
//! language, `i18n/<lang>.txt` (`key = text` lines a translator can read and edit);
//! English is the reference, and a test fails when a table lacks a key or has one too
//! many. The language comes from the `locale` option, else the page's `lang`, else the
//! browser's languages, else English.
//!
//! Only English is built into the wasm (it is also what a failed table load falls back
//! to); the other tables are static files that the bootstrap fetches, pinned by their
//! hash, in parallel with the wasm — only the one the customer needs.

macro_rules! keys {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        /// One string the widget shows; its name is the key in the tables.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Key { $($variant),+ }

        impl Key {
            pub const ALL: &'static [Key] = &[$(Key::$variant),+];

            pub fn name(self) -> &'static str {
                match self { $(Key::$variant => $name),+ }
            }
        }
    };
}

keys! {
    Payment => "payment",
    Loading => "loading",
    Pay => "pay",
    CheckingCard => "checking_card",
    Processing => "processing",
    ConfirmWithBank => "confirm_with_bank",
    Succeeded => "succeeded",
    Reserved => "reserved",
    Canceled => "canceled",
    Declined => "declined",
    StillProcessing => "still_processing",
    UnknownOutcome => "unknown_outcome",
    Unreachable => "unreachable",
    Garbled => "garbled",
    InvalidLink => "invalid_link",
    ApiError => "api_error",
    ProviderBlocked => "provider_blocked",
    Retry => "retry",
    CardNoAnswer => "card_no_answer",
    CardUnusable => "card_unusable",
    AuthClosed => "auth_closed",
    WalletUsername => "wallet_username",
    WalletPay => "wallet_pay",
    WalletEnterUsername => "wallet_enter_username",
    WalletSending => "wallet_sending",
    WalletApprove => "wallet_approve",
    WalletTimeUp => "wallet_time_up",
    WalletLeft => "wallet_left",
    RedirectPay => "redirect_pay",
    RedirectGoing => "redirect_going",
    RedirectUnfinished => "redirect_unfinished",
    RedirectContinue => "redirect_continue",
    RedirectChecking => "redirect_checking",
    SetupTitle => "setup_title",
    SetupLoading => "setup_loading",
    SaveCard => "save_card",
    SetupSaving => "setup_saving",
    SetupConfirmWithBank => "setup_confirm_with_bank",
    SetupSucceeded => "setup_succeeded",
    SetupCanceled => "setup_canceled",
    SetupDeclined => "setup_declined",
    SetupStillProcessing => "setup_still_processing",
    SetupUnknownOutcome => "setup_unknown_outcome",
}

impl Key {
    /// Save-card mode's own words where a payment's would be wrong ("Pay" → "Save
    /// card"): one switch here instead of a second set of calls in every module.
    fn for_setup(self) -> Key {
        match self {
            Key::Payment => Key::SetupTitle,
            Key::Loading => Key::SetupLoading,
            Key::Pay => Key::SaveCard,
            Key::Processing => Key::SetupSaving,
            Key::ConfirmWithBank => Key::SetupConfirmWithBank,
            Key::Succeeded => Key::SetupSucceeded,
            Key::Canceled => Key::SetupCanceled,
            Key::Declined => Key::SetupDeclined,
            Key::StillProcessing => Key::SetupStillProcessing,
            Key::UnknownOutcome => Key::SetupUnknownOutcome,
            k => k,
        }
    }
}

/// The languages the widget speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
    Fr,
    It,
    Ru,
}

impl Lang {
    pub const ALL: [Lang; 5] = [Lang::En, Lang::De, Lang::Fr, Lang::It, Lang::Ru];

    /// The ISO 639-1 code, as Stripe.js's `locale` takes it too.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::It => "it",
            Lang::Ru => "ru",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code))
    }
}

/// The built-in table.
const ENGLISH: &str = include_str!("i18n/en.txt");

/// The customer's language, and the region that shapes how numbers read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locale {
    pub lang: Lang,
    region: Option<String>,
}

impl Locale {
    /// The first BCP 47 tag (`de`, `de-CH`, `ru_RU`) whose language the widget speaks,
    /// in the order given: the `locale` option, the page's `lang`, the browser's
    /// languages. English when none is.
    pub fn choose<'a>(tags: impl IntoIterator<Item = &'a str>) -> Locale {
        tags.into_iter().find_map(Locale::parse).unwrap_or(Locale {
            lang: Lang::En,
            region: None,
        })
    }

    fn parse(tag: &str) -> Option<Locale> {
        let mut parts = tag.trim().split(['-', '_']);
        let lang = Lang::from_code(parts.next()?)?;
        // The region is the 2-letter or 3-digit subtag (a script subtag comes first).
        let region = parts
            .find(|p| {
                (p.len() == 2 && p.bytes().all(|b| b.is_ascii_alphabetic()))
                    || (p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|p| p.to_ascii_uppercase());
        Some(Locale { lang, region })
    }

    /// The region amounts are formatted for (`""`: the language's own way). A tag's
    /// own region wins; a bare language takes the currency's home where that is one
    /// country we sell in: Swiss francs read the Swiss way in every language
    /// (`CHF 1'234.50`, never `1.234,50 CHF`).
    pub fn number_region(&self, currency: &str) -> &str {
        match &self.region {
            Some(r) => r,
            None if currency == "CHF" => "CH",
            None => "",
        }
    }
}

/// One language's strings, in [`Key`] order.
pub struct Strings {
    texts: Vec<Option<String>>,
    /// Save-card mode (a SetupIntent): [`Strings::get`] says the save-card words.
    pub setup: bool,
}

impl Strings {
    /// A language's strings from its table's text (`None`, or a table that does not
    /// parse: English).
    pub fn new(table: Option<&str>) -> Strings {
        // The English table backs up any gap (a test keeps there from being any).
        let mut texts = table.and_then(|t| parse(t).ok()).unwrap_or_default();
        let english = parse(ENGLISH).unwrap_or_default();
        texts.resize(Key::ALL.len(), None);
        for (text, fallback) in texts.iter_mut().zip(english) {
            if text.is_none() {
                *text = fallback;
            }
        }
        Strings {
            texts,
            setup: false,
        }
    }

    pub fn for_setup(self, setup: bool) -> Strings {
        Strings { setup, ..self }
    }

    pub fn get(&self, key: Key) -> &str {
        let key = if self.setup { key.for_setup() } else { key };
        self.texts
            .get(key as usize)
            .and_then(|t| t.as_deref())
            .unwrap_or(key.name())
    }

    /// The text with `{name}` replaced by `value`.
    pub fn fill(&self, key: Key, name: &str, value: &str) -> String {
        fill(self.get(key), name, value)
    }
}

/// `text` with every `{name}` replaced by `value`, found with a `char` pattern (a
/// `&str` pattern would link `str`'s two-way searcher into the wasm).
fn fill(text: &str, name: &str, value: &str) -> String {
    let mut parts = text.split('{');
    let mut out = String::from(parts.next().unwrap_or_default());
    for part in parts {
        match part.strip_prefix(name).and_then(|p| p.strip_prefix('}')) {
            Some(rest) => {
                out.push_str(value);
                out.push_str(rest);
            }
            None => {
                out.push('{');
                out.push_str(part);
            }
        }
    }
    out
}

/// Why a table does not parse: the line (1-based) and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    /// Not `key = text`.
    NotKeyText(usize),
    UnknownKey(usize, String),
    Twice(usize, String),
}

/// Said only in tests and tools: the widget drops a broken table for English.
impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableError::NotKeyText(n) => write!(f, "line {n}: not `key = text`"),
            TableError::UnknownKey(n, name) => write!(f, "line {n}: unknown key {name}"),
            TableError::Twice(n, name) => write!(f, "line {n}: {name} given twice"),
        }
    }
}

/// A table's texts in [`Key`] order (`None` where the table lacks a key). Errors name
/// the line: not `key = text`, an unknown key, or a key given twice.
pub fn parse(table: &str) -> Result<Vec<Option<String>>, TableError> {
    let mut texts = vec![None; Key::ALL.len()];
    for (n, line) in table.lines().enumerate() {
        let n = n + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // `key = text`: keys have no `=`, so the first `=` is the separator.
        let (name, text) = line
            .split_once('=')
            .and_then(|(name, text)| Some((name.strip_suffix(' ')?, text.strip_prefix(' ')?)))
            .ok_or(TableError::NotKeyText(n))?;
        let key = Key::ALL
            .iter()
            .find(|k| k.name() == name.trim())
            .ok_or_else(|| TableError::UnknownKey(n, name.to_owned()))?;
        let Some(slot) = texts.get_mut(*key as usize) else {
            continue;
        };
        if slot.is_some() {
            return Err(TableError::Twice(n, name.to_owned()));
        }
        *slot = Some(text.trim().to_owned());
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Lang {
        /// The table's text, as the build ships it.
        pub fn table(self) -> &'static str {
            match self {
                Lang::En => ENGLISH,
                Lang::De => include_str!("i18n/de.txt"),
                Lang::Fr => include_str!("i18n/fr.txt"),
                Lang::It => include_str!("i18n/it.txt"),
                Lang::Ru => include_str!("i18n/ru.txt"),
            }
        }
    }

    fn placeholders(text: &str) -> Vec<&str> {
        let mut out: Vec<&str> = text
            .split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(name, _)| name))
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn every_language_has_every_key_and_the_same_placeholders() {
        let english = parse(Lang::En.table()).unwrap();
        for lang in Lang::ALL {
            let texts = parse(lang.table()).unwrap_or_else(|e| panic!("{}: {e}", lang.code()));
            for (key, (text, en)) in Key::ALL.iter().zip(texts.iter().zip(&english)) {
                let (Some(text), Some(en)) = (text, en) else {
                    panic!("{}.txt lacks the key {}", lang.code(), key.name());
                };
                assert!(!text.is_empty(), "{}: {} is empty", lang.code(), key.name());
                // {reason} is the Worker's English sentence: a translation may leave it out.
                let mut want = placeholders(en);
                if !text.contains("{reason}") {
                    want.retain(|p| *p != "reason");
                }
                assert_eq!(
                    placeholders(text),
                    want,
                    "{}: {} fills other blanks than English",
                    lang.code(),
                    key.name()
                );
            }
        }
    }

    #[test]
    fn a_table_lacking_a_key_is_caught() {
        let without_pay: String = Lang::De
            .table()
            .lines()
            .filter(|l| !l.starts_with("pay "))
            .map(|l| format!("{l}\n"))
            .collect();
        let texts = parse(&without_pay).unwrap();
        assert_eq!(texts[Key::Pay as usize], None);
        let err = |t: &str| parse(t).unwrap_err().to_string();
        assert!(err("pay = x\npay = y").contains("twice"));
        assert!(err("paj = x").contains("unknown key"));
        assert!(err("pay: x").contains("not `key = text`"));
        assert_eq!(err("\n\npay=x"), "line 3: not `key = text`");
        // The text may hold ` = ` itself; the first `=` ends the key.
        assert_eq!(Strings::new(Some("retry = a = b")).get(Key::Retry), "a = b");
    }

    #[test]
    fn the_german_pay_button_and_a_gap_filled_from_english() {
        let de = Strings::new(Some(Lang::De.table()));
        assert_eq!(
            de.fill(Key::Pay, "amount", "CHF 1'234.50"),
            "Bezahlen CHF 1'234.50"
        );
        assert_eq!(
            Strings::new(Some(Lang::Ru.table())).get(Key::Retry),
            "Попробовать снова"
        );
        let gap = Strings::new(Some("pay = Bezahlen {amount}"));
        assert_eq!(gap.get(Key::Retry), "Try again");
        assert_eq!(
            Strings::new(Some("not a table")).get(Key::Pay),
            "Pay {amount}"
        );
    }

    #[test]
    fn fill_replaces_every_blank_of_that_name_and_leaves_the_others() {
        for (text, want) in [
            ("{a} and {b} {a}", "x and {b} x"),
            ("{{a}}", "{x}"),
            ("{a", "{a"),
            ("no blank", "no blank"),
            ("{ab}{a}", "{ab}x"),
        ] {
            assert_eq!(fill(text, "a", "x"), want);
            assert_eq!(fill(text, "a", "x"), text.replace("{a}", "x"));
        }
    }

    #[test]
    fn save_card_mode_says_save_where_a_payment_says_pay() {
        let de = Strings::new(Some(Lang::De.table())).for_setup(true);
        assert_eq!(de.get(Key::Pay), "Karte speichern");
        assert_eq!(de.get(Key::Retry), "Erneut versuchen");
        let en = Strings::new(None).for_setup(true);
        assert_eq!(en.get(Key::Pay), "Save card");
        assert_eq!(en.get(Key::Succeeded), "Your card is saved.");
        assert_eq!(Strings::new(None).get(Key::Pay), "Pay {amount}");
        // Every payment word that names a payment has its save-card twin.
        for key in Key::ALL {
            let setup = key.for_setup();
            if setup != *key {
                assert!(setup.name().starts_with("setup_") || setup == Key::SaveCard);
            }
        }
    }

    #[test]
    fn the_locale_option_then_the_page_then_the_browser_then_english() {
        let pick = |tags: &[&str]| Locale::choose(tags.iter().copied());
        assert_eq!(pick(&["ru", "de-CH", "en-US"]).lang, Lang::Ru);
        // An option we do not speak falls through to the page's language.
        assert_eq!(pick(&["es", "de-CH", "en-US"]).lang, Lang::De);
        assert_eq!(pick(&["", "", "fr-CA", "en"]).lang, Lang::Fr);
        assert_eq!(pick(&["pt-BR", "ja"]).lang, Lang::En);
        assert_eq!(pick(&[]).lang, Lang::En);
        assert_eq!(pick(&["IT_it"]).lang, Lang::It);
    }

    #[test]
    fn francs_read_the_swiss_way_unless_the_tag_names_a_region() {
        let loc = |t: &str| Locale::choose([t]);
        assert_eq!(loc("de").number_region("CHF"), "CH");
        assert_eq!(loc("ru").number_region("CHF"), "CH");
        assert_eq!(loc("de").number_region("EUR"), "");
        assert_eq!(loc("de-at").number_region("CHF"), "AT");
        assert_eq!(loc("sr-Latn-RS").lang, Lang::En);
        assert_eq!(loc("fr-Latn-CH").number_region("EUR"), "CH");
    }
}
