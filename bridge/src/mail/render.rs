//! Message bodies from the tera templates in `templates/email/`: a subject, a plain-text part
//! and an HTML part per message and language, sharing one HTML layout. The templates are built
//! into the binary, so a deployment cannot lose them.

use serde::Serialize;
use tera::{Context, Tera};

use crate::error::{Error, Result};

const TEMPLATES: &[(&str, &str)] = &[
    (
        "layout.html",
        include_str!("../../../templates/email/layout.html"),
    ),
    (
        "onboarding.en.subject.txt",
        include_str!("../../../templates/email/onboarding.en.subject.txt"),
    ),
    (
        "onboarding.en.txt",
        include_str!("../../../templates/email/onboarding.en.txt"),
    ),
    (
        "onboarding.en.html",
        include_str!("../../../templates/email/onboarding.en.html"),
    ),
    (
        "onboarding.de.subject.txt",
        include_str!("../../../templates/email/onboarding.de.subject.txt"),
    ),
    (
        "onboarding.de.txt",
        include_str!("../../../templates/email/onboarding.de.txt"),
    ),
    (
        "onboarding.de.html",
        include_str!("../../../templates/email/onboarding.de.html"),
    ),
    (
        "onboarding_entra.en.subject.txt",
        include_str!("../../../templates/email/onboarding_entra.en.subject.txt"),
    ),
    (
        "onboarding_entra.en.txt",
        include_str!("../../../templates/email/onboarding_entra.en.txt"),
    ),
    (
        "onboarding_entra.en.html",
        include_str!("../../../templates/email/onboarding_entra.en.html"),
    ),
    (
        "onboarding_entra.de.subject.txt",
        include_str!("../../../templates/email/onboarding_entra.de.subject.txt"),
    ),
    (
        "onboarding_entra.de.txt",
        include_str!("../../../templates/email/onboarding_entra.de.txt"),
    ),
    (
        "onboarding_entra.de.html",
        include_str!("../../../templates/email/onboarding_entra.de.html"),
    ),
    (
        "test.en.subject.txt",
        include_str!("../../../templates/email/test.en.subject.txt"),
    ),
    (
        "test.en.txt",
        include_str!("../../../templates/email/test.en.txt"),
    ),
    (
        "test.en.html",
        include_str!("../../../templates/email/test.en.html"),
    ),
];

/// Languages with a full set of templates; the first is the fallback.
pub const LANGUAGES: &[&str] = &["en", "de"];

pub struct Templates {
    tera: Tera,
}

/// A rendered message.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The language to write in: the user's preferred language (`de-CH` → `de`) if there are
/// templates for it, else the configured default, else English.
pub fn pick_language(preferred: Option<&str>, default: &str) -> &'static str {
    let primary = |tag: &str| {
        tag.split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    for candidate in preferred.into_iter().chain([default]) {
        let wanted = primary(candidate);
        if let Some(l) = LANGUAGES.iter().find(|l| **l == wanted) {
            return l;
        }
    }
    LANGUAGES[0]
}

impl Templates {
    pub fn new() -> Result<Self> {
        let mut tera = Tera::new();
        tera.add_raw_templates(TEMPLATES.iter().copied())
            .map_err(|e| plugin::Error::Internal(format!("mail templates: {e}")))?;
        Ok(Templates { tera })
    }

    /// Renders message `kind` (`onboarding`, `onboarding_entra`, `test`) in `language`. Values in `context` are
    /// escaped in the HTML part; the subject is a single line.
    pub fn render(&self, kind: &str, language: &str, context: &impl Serialize) -> Result<Rendered> {
        let ctx = Context::from_serialize(context)
            .map_err(|e| plugin::Error::Internal(format!("mail context: {e}")))?;
        let lang = if self
            .tera
            .contains_template(&format!("{kind}.{language}.txt"))
        {
            language
        } else {
            LANGUAGES[0]
        };
        let render = |name: String| {
            self.tera.render(&name, &ctx).map_err(|e| {
                Error::Platform(plugin::Error::Internal(format!(
                    "mail template {name}: {e}"
                )))
            })
        };
        let subject = render(format!("{kind}.{lang}.subject.txt"))?;
        // A subject is one line whatever the template or the names in it contain.
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(Rendered {
            subject,
            text: render(format!("{kind}.{lang}.txt"))?,
            html: render(format!("{kind}.{lang}.html"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn languages_fall_back() {
        assert_eq!(pick_language(Some("de-CH"), "en"), "de");
        assert_eq!(pick_language(Some("fr"), "de"), "de");
        assert_eq!(pick_language(None, "xx"), "en");
        assert_eq!(pick_language(Some("DE_at"), "en"), "de");
    }

    #[test]
    fn html_escapes_directory_values_and_text_keeps_them() {
        let t = Templates::new().unwrap();
        let ctx = json!({
            "lang": "en", "org_name": "Acme <Corp>", "name": "<script>alert(1)</script>",
            "user_principal_name": "ada@example.com", "pass": "AbCd-EfGh", "valid_from": "a", "valid_until": "b",
            "usable_once": true, "onboard_url": "https://id.example/onboard", "support_contact": "help@example.com",
            "logo_url": null
        });
        let r = t.render("onboarding", "en", &ctx).unwrap();
        assert!(r.html.contains("&lt;script&gt;") && !r.html.contains("<script>alert"));
        assert!(
            r.text.contains("<script>alert(1)</script>"),
            "plain text is not HTML-escaped"
        );
        assert_eq!(r.html.matches("AbCd-EfGh").count(), 1);
        assert!(!r.subject.contains("AbCd"));
        let de = t.render("onboarding", "de", &ctx).unwrap();
        assert!(de.text.contains("Hallo"));
        assert!(!r.text.contains("replaces") && !de.text.contains("ersetzt"));
    }

    #[test]
    fn a_message_sent_again_says_it_replaces_the_earlier_one_in_both_parts() {
        let t = Templates::new().unwrap();
        let mut ctx = json!({
            "lang": "en", "org_name": "Acme", "name": "Ada", "user_principal_name": "ada@example.com",
            "pass": "AbCd-EfGh", "valid_from": "a", "valid_until": "b", "usable_once": true,
            "onboard_url": "https://id.example/onboard", "support_contact": null, "logo_url": null,
            "replaces": true
        });
        let en = t.render("onboarding", "en", &ctx).unwrap();
        let de = t.render("onboarding", "de", &ctx).unwrap();
        for part in [&en.text, &en.html] {
            assert!(part.contains("replaces an earlier one") && part.contains("no longer works"));
        }
        for part in [&de.text, &de.html] {
            assert!(part.contains("ersetzt eine frühere") && part.contains("gilt nicht mehr"));
        }
        ctx["replaces"] = json!(false);
        let en = t.render("onboarding", "en", &ctx).unwrap();
        assert!(!en.text.contains("replaces") && !en.html.contains("replaces"));
    }
}
