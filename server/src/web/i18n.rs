//! The pages' languages: English and German, as the onboarding mail. Every sentence a page
//! shows comes from a catalogue under `templates/pages/i18n/` (one flat JSON object per
//! language, the same keys in each); templates read it as `t.key`, handlers through
//! [`Lang::text`] and [`Lang::format`].
//!
//! A page is in the signed-in user's `preferredLanguage` when it is one of these, else in the
//! first of the browser's `Accept-Language` that is, else in English.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub enum Lang {
    #[default]
    En,
    De,
}

type Catalogue = BTreeMap<String, String>;

fn load(json: &str) -> Catalogue {
    // A catalogue that does not parse is a build defect the unit tests catch; serve the keys
    // rather than fail every page.
    serde_json::from_str(json).unwrap_or_default()
}

static EN: LazyLock<Catalogue> =
    LazyLock::new(|| load(include_str!("../../../templates/pages/i18n/en.json")));
static DE: LazyLock<Catalogue> =
    LazyLock::new(|| load(include_str!("../../../templates/pages/i18n/de.json")));

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::De];

    /// The BCP 47 tag for `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// The language of a BCP 47 tag (`de-CH` → German), if the pages have it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(primary))
    }

    /// The best language for an `Accept-Language` header: the highest-weighted tag the pages
    /// have (`q=0` means "not this one").
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (position, item) in header.split(',').enumerate() {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let weight = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let Some(lang) = Lang::from_tag(tag) else {
                continue;
            };
            if weight <= 0.0 {
                continue;
            }
            // Equal weights keep the header's order.
            let better = best.is_none_or(|(w, p, _)| weight > w || (weight == w && position < p));
            if better {
                best = Some((weight, position, lang));
            }
        }
        best.map(|(_, _, lang)| lang)
    }

    pub fn catalogue(self) -> &'static Catalogue {
        match self {
            Lang::En => &EN,
            Lang::De => &DE,
        }
    }

    /// The sentence under `key`, in English when this catalogue lacks it, else the key itself
    /// (which the tests catch).
    pub fn text(self, key: &str) -> &str {
        match self.catalogue().get(key).or_else(|| EN.get(key)) {
            Some(text) => text,
            None => {
                tracing::error!(key, "page text missing from the catalogue");
                key
            }
        }
    }

    /// [`Self::text`] with `{name}` placeholders filled in.
    pub fn format(self, key: &str, args: &[(&str, &str)]) -> String {
        let mut out = self.text(key).to_owned();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_parse_and_hold_the_same_keys() {
        let en: Catalogue =
            serde_json::from_str(include_str!("../../../templates/pages/i18n/en.json")).unwrap();
        let de: Catalogue =
            serde_json::from_str(include_str!("../../../templates/pages/i18n/de.json")).unwrap();
        let missing_de: Vec<_> = en.keys().filter(|k| !de.contains_key(*k)).collect();
        let missing_en: Vec<_> = de.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(missing_de.is_empty(), "not in de.json: {missing_de:?}");
        assert!(missing_en.is_empty(), "not in en.json: {missing_en:?}");
        for (k, v) in en.iter().chain(de.iter()) {
            assert!(!v.trim().is_empty(), "{k} is empty");
        }
        // Placeholders match between the languages.
        let holes = |s: &str| {
            let mut h: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned()))
                .collect();
            h.sort();
            h
        };
        for (k, v) in &en {
            assert_eq!(holes(v), holes(&de[k]), "placeholders of {k}");
        }
    }

    /// Every `t.key` a template names, and every key the handlers look up by a literal,
    /// is in the catalogue: a missing one would fail a page at render time.
    #[test]
    fn every_key_used_exists() {
        let templates = [
            include_str!("../../../templates/pages/base.html"),
            include_str!("../../../templates/pages/error.html"),
            include_str!("../../../templates/pages/confirm.html"),
            include_str!("../../../templates/pages/signout.html"),
            include_str!("../../../templates/pages/signin_tap.html"),
            include_str!("../../../templates/pages/signin.html"),
            include_str!("../../../templates/pages/register.html"),
            include_str!("../../../templates/pages/registered.html"),
            include_str!("../../../templates/pages/security_info.html"),
            include_str!("../../../templates/pages/admin_users.html"),
            include_str!("../../../templates/pages/admin_applications.html"),
            include_str!("../../../templates/pages/admin_user.html"),
            include_str!("../../../templates/pages/admin_policies.html"),
        ];
        let sources = [
            include_str!("error.rs"),
            include_str!("form.rs"),
            include_str!("notices.rs"),
            include_str!("pass_state.rs"),
            include_str!("register.rs"),
            include_str!("security_info.rs"),
            include_str!("signin.rs"),
            include_str!("signout.rs"),
            include_str!("viewer.rs"),
            include_str!("admin/users.rs"),
            include_str!("admin/user.rs"),
            include_str!("admin/policies.rs"),
        ];
        let key_chars = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        let mut used = Vec::new();
        for t in templates {
            for part in t.split("t.").skip(1) {
                let key: String = part.chars().take_while(|c| key_chars(*c)).collect();
                if !key.is_empty() {
                    used.push(key);
                }
            }
        }
        for src in sources {
            for part in src.split('"').skip(1).step_by(2) {
                // Literals that look like catalogue keys: lower_snake with an underscore.
                if part.contains('_') && part.chars().all(key_chars) {
                    used.push(part.to_owned());
                }
            }
        }
        // Keys made at run time, from a field name.
        used.extend(["tap_signin_upn_missing", "tap_signin_pass_missing"].map(String::from));
        let not_keys = [
            "form_id",
            "confirm_label",
            "cancel_label",
            "back_label",
            "shown_before",
            "read_only",
            "form_error",
            "once_forced",
            "lifetime_hint",
            "unknown_aaguid",
            "last_used",
            "is_admin",
            "pass_usable",
            "signed_in",
            "tap_errors",
            "tap_error",
            "fido2_errors",
            "fido2_error",
            "tap_focus",
            "lifetime_min",
            "lifetime_max",
            "length_min",
            "length_max",
            "attestation_roots",
            "risks_now",
            "self_service",
            "failed_attempts",
            "user_id",
            "tap_id",
            "typed",
            "x_csrf_token",
        ];
        let missing: Vec<_> = used
            .iter()
            .filter(|k| !not_keys.contains(&k.as_str()) && !EN.contains_key(*k))
            .collect();
        assert!(missing.is_empty(), "not in the catalogue: {missing:?}");
    }

    #[test]
    fn tags_and_accept_language() {
        assert_eq!(Lang::from_tag("de-CH"), Some(Lang::De));
        assert_eq!(Lang::from_tag("EN_gb"), Some(Lang::En));
        assert_eq!(Lang::from_tag("fr"), None);
        assert_eq!(
            Lang::from_accept_language("fr-FR,fr;q=0.9,de;q=0.8,en;q=0.7"),
            Some(Lang::De)
        );
        assert_eq!(
            Lang::from_accept_language("en;q=0.5, de-AT;q=0.9"),
            Some(Lang::De)
        );
        assert_eq!(
            Lang::from_accept_language("de;q=0, en"),
            Some(Lang::En),
            "q=0 refuses"
        );
        assert_eq!(Lang::from_accept_language("en, de"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("fr, *"), None);
        assert_eq!(Lang::from_accept_language(""), None);
    }

    #[test]
    fn format_fills_placeholders() {
        assert_eq!(
            Lang::De.format("search_found", &[("total", "3")]),
            "3 Benutzer gefunden."
        );
        assert_eq!(Lang::En.text("no such key"), "no such key");
    }
}
