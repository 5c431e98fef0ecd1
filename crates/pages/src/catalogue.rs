//! The pages' words, from one catalogue per language (`messages/<lang>.toml`,
//! English first). Templates read them as `m.<section>.<key>`; handlers
//! look up error and notice texts with [`Catalogue::text`]. Every language
//! file must have exactly English's keys (a test checks), so a missing
//! translation is a failed build, not a blank on the page.

use std::collections::BTreeMap;

/// English, the reference catalogue.
const ENGLISH: &str = include_str!("../messages/en.toml");

/// The built-in languages: `(code, file)`.
pub const LANGUAGES: &[(&str, &str)] = &[("en", ENGLISH)];

/// One language's messages.
#[derive(Debug, Clone)]
pub struct Catalogue {
    lang: &'static str,
    table: toml::Table,
}

/// A catalogue file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("message catalogue {lang}: {message}")]
pub struct CatalogueError {
    lang: String,
    message: String,
}

impl Catalogue {
    /// English.
    pub fn english() -> Result<Self, CatalogueError> {
        Self::parse("en", ENGLISH)
    }

    fn parse(lang: &'static str, text: &str) -> Result<Self, CatalogueError> {
        let table = text.parse::<toml::Table>().map_err(|e| CatalogueError {
            lang: lang.into(),
            message: e.to_string(),
        })?;
        Ok(Self { lang, table })
    }

    /// The language code (`lang` of the pages' `<html>`).
    pub fn lang(&self) -> &'static str {
        self.lang
    }

    /// The message at `section.key`; a missing key is a bug the catalogue
    /// tests catch, shown as the key rather than failing the page.
    pub fn text(&self, key: &str) -> String {
        key.split_once('.')
            .and_then(|(section, name)| self.table.get(section)?.get(name)?.as_str())
            .map_or_else(|| key.to_owned(), str::to_owned)
    }

    /// Every `section.key`, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for (section, value) in &self.table {
            if let Some(table) = value.as_table() {
                keys.extend(table.keys().map(|k| format!("{section}.{k}")));
            }
        }
        keys.sort();
        keys
    }

    /// The messages as the templates' `m` global.
    pub fn to_value(&self) -> minijinja::Value {
        let sections: BTreeMap<&str, BTreeMap<&str, &str>> = self
            .table
            .iter()
            .filter_map(|(section, value)| {
                let entries = value
                    .as_table()?
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                    .collect();
                Some((section.as_str(), entries))
            })
            .collect();
        minijinja::Value::from(minijinja::value::Serde(&sections))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_exactly_the_english_keys() {
        let english = Catalogue::english().unwrap();
        assert!(english.keys().len() > 30);
        for (lang, text) in LANGUAGES {
            let other = Catalogue::parse(lang, text).unwrap();
            assert_eq!(other.keys(), english.keys(), "{lang}");
        }
    }

    #[test]
    fn every_message_is_text() {
        let english = Catalogue::english().unwrap();
        for (section, value) in &english.table {
            let table = value
                .as_table()
                .unwrap_or_else(|| panic!("{section} is a table"));
            for (key, text) in table {
                assert!(
                    text.as_str().is_some_and(|t| !t.trim().is_empty()),
                    "{section}.{key}"
                );
            }
        }
        assert_eq!(english.text("signin.title"), "Sign in");
        assert_eq!(english.text("nope.missing"), "nope.missing");
    }
}
