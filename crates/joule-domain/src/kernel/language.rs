//! Languages: the code a driver (id token) or a site carries, and the choice
//! of the language Joule writes its own driver-facing texts in.
//!
//! A stored code may be any ISO 639-1 language (a driver's `it` is kept even
//! though Joule has no Italian texts: a tariff may carry an Italian
//! `tariff_alt_text`); the texts Joule generates exist in [`Language`] only,
//! and [`choose_language`] falls back to one of those.

use std::fmt;

use serde::{Serialize, Serializer};

/// Every ISO 639-1 code, sorted (binary-searched).
const ISO_639_1: &[&str] = &[
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh",
    "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da",
    "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr",
    "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz",
    "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj",
    "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln",
    "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb",
    "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi",
    "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk",
    "sl", "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti",
    "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo",
    "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu",
];

/// Why a language code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an ISO 639-1 language code (two letters, e.g. es)")]
pub struct InvalidLanguageCode(pub String);

/// An ISO 639-1 language code, lower case. Parsed, so a stored or compared
/// code is never `ES` in one place and `es` in another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LanguageCode(String);

impl LanguageCode {
    /// Accepts any case (`ES` → `es`); refuses codes that are not in
    /// ISO 639-1 (`xx`, `eng`, `es-ES`).
    pub fn parse(raw: &str) -> Result<LanguageCode, InvalidLanguageCode> {
        let lower = raw.to_ascii_lowercase();
        if ISO_639_1.binary_search(&lower.as_str()).is_ok() {
            Ok(LanguageCode(lower))
        } else {
            Err(InvalidLanguageCode(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LanguageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for LanguageCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A language Joule has its own texts in (see [`crate::kernel::texts`]; receipts
/// too).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Es,
    Fr,
    De,
}

impl Language {
    pub const ALL: [Language; 4] = [Language::En, Language::Es, Language::Fr, Language::De];

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Es => "es",
            Self::Fr => "fr",
            Self::De => "de",
        }
    }

    /// The language of a BCP 47 tag or an `Accept-Language` entry
    /// (`"fr"`, `"de-AT"`, `"es_MX"`), English when Joule has no texts in it.
    pub fn from_tag(tag: &str) -> Language {
        let primary = tag.trim().split(['-', '_', ';']).next().unwrap_or("");
        Self::supported(primary).unwrap_or_default()
    }

    /// `None` for a language Joule has no texts in (case-insensitive).
    pub fn supported(raw: &str) -> Option<Language> {
        Self::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(raw))
    }
}

/// The language of Joule's texts for a driver: the driver's (their id
/// token's), else the site's, else English. A language Joule has no texts
/// in counts as not given, so an Italian driver at a Spanish site reads
/// Spanish. The site is a parameter because sites are not modelled yet.
pub fn choose_language(driver: Option<&str>, site: Option<&str>) -> Language {
    driver
        .and_then(Language::supported)
        .or_else(|| site.and_then(Language::supported))
        .unwrap_or(Language::En)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_list_is_sorted_and_complete() {
        assert!(ISO_639_1.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ISO_639_1.len(), 184);
    }

    #[test]
    fn codes_parse_case_insensitively_and_refuse_non_codes() {
        assert_eq!(LanguageCode::parse("ES").unwrap().as_str(), "es");
        assert_eq!(LanguageCode::parse("it").unwrap().to_string(), "it");
        for bad in ["", "xx", "eng", "es-ES", "e", "é1"] {
            assert!(LanguageCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn driver_then_site_then_english() {
        assert_eq!(choose_language(Some("fr"), Some("de")), Language::Fr);
        assert_eq!(choose_language(Some("DE"), None), Language::De);
        assert_eq!(choose_language(Some("it"), Some("es")), Language::Es);
        assert_eq!(choose_language(None, Some("es")), Language::Es);
        assert_eq!(choose_language(Some("it"), Some("pt")), Language::En);
        assert_eq!(choose_language(None, None), Language::En);
    }
}
