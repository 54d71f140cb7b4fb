//! The Entra connector: a joiner's Temporary Access Pass minted in the customer's Microsoft
//! Entra tenant, then mailed by tapbridge.
//!
//! * [`config`]: the `[entra]` section; [`credential`]: client secret or certificate
//!   (an RS256 client assertion signed with ring).
//! * [`token`]: client-credentials tokens, cached until shortly before expiry, renewed once
//!   on a 401.
//! * [`graph`]: the Graph calls (policy, user look-up, create / list / delete a pass), bounded
//!   in concurrency and paused when Entra throttles; [`error`]: every refusal mapped to one of
//!   four outcomes.
//! * [`policy`], [`permissions`], [`check`]: `tapbridge entra check` and
//!   `GET /v1.0/tapbridge/entra` (the route is the server crate's).
//!
//! No secret — client secret, assertion, access token, pass — is logged or shown by `Debug`.

pub mod check;
pub mod config;
pub mod credential;
pub mod error;
pub mod graph;
pub mod permissions;
pub mod policy;
pub mod token;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use plugin::clock::Clock;

pub use check::{CheckReport, RuleTerms};
pub use config::{EntraConfig, UserMatch};
pub use error::EntraError;
pub use graph::{CreatedPass, EntraUser, Graph, PassMethod, PassRequest, UserKey};

use credential::Credential;
use token::TokenSource;
use transport::{Reqwest, Transport};

/// A configured connection to one tenant.
pub struct Entra {
    graph: Graph,
    tenant_id: String,
    client_id: String,
    authority_url: String,
    graph_url: String,
    credential_kind: &'static str,
    /// How tapbridge users are found in Entra.
    pub user_match: UserMatch,
    /// Where the mail sends the user to register a passkey.
    pub my_security_info_url: String,
    /// How long a pass waits for its user to appear in Entra.
    pub user_wait: Duration,
}

impl Entra {
    /// The connector `config` describes (checked by [`EntraConfig::validate`]); `None` when
    /// the section leaves it off.
    pub fn from_config(
        config: &EntraConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Arc<Entra>>, String> {
        if !config.enabled() {
            return Ok(None);
        }
        let proxy = (!config.proxy.is_empty()).then_some(config.proxy.as_str());
        let transport = Arc::new(Reqwest::new(config.timeout(), proxy)?);
        Entra::with_transport(config, clock, transport).map(|e| Some(Arc::new(e)))
    }

    /// The connector over any transport (tests script one).
    pub fn with_transport(
        config: &EntraConfig,
        clock: Arc<dyn Clock>,
        transport: Arc<dyn Transport>,
    ) -> Result<Entra, String> {
        let credential = config.credential()?;
        let credential_kind = match credential {
            Credential::Secret(_) => "clientSecret",
            Credential::Certificate(_) => "certificate",
        };
        let tokens = TokenSource::new(
            transport.clone(),
            clock.clone(),
            &config.authority_url,
            &config.tenant_id,
            &config.client_id,
            &config.graph_url,
            credential,
        );
        Ok(Entra {
            graph: Graph::new(
                transport,
                clock,
                tokens,
                &config.graph_url,
                config.concurrency,
            ),
            tenant_id: config.tenant_id.clone(),
            client_id: config.client_id.clone(),
            authority_url: config.authority_url.clone(),
            graph_url: config.graph_url.clone(),
            credential_kind,
            user_match: config.user_match,
            my_security_info_url: config.my_security_info_url.clone(),
            user_wait: config.user_wait(),
        })
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin::clock::ManualClock;
    use plugin::secret::SecretString;
    use token::tests::{NOW, Script, token_body};

    fn entra(script: Arc<Script>) -> Entra {
        let config = EntraConfig {
            tenant_id: "t1".into(),
            client_id: "00000000-0000-0000-0000-00000000000a".into(),
            client_secret: Some(SecretString::new("s".into())),
            ..EntraConfig::default()
        };
        Entra::with_transport(&config, Arc::new(ManualClock::new(NOW)), script).unwrap()
    }

    fn jwt(roles: &[&str]) -> String {
        use base64::Engine;
        let enc = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.c2ln",
            enc(serde_json::json!({"alg": "RS256"})),
            enc(serde_json::json!({"roles": roles}))
        )
    }

    const POLICY: &str = r#"{"id":"TemporaryAccessPass","state":"enabled","defaultLifetimeInMinutes":60,"defaultLength":8,"minimumLifetimeInMinutes":60,"maximumLifetimeInMinutes":480,"isUsableOnce":false,"includeTargets":[{"targetType":"group","id":"all_users"}],"excludeTargets":[]}"#;

    fn rules() -> Vec<RuleTerms> {
        vec![
            RuleTerms {
                name: "short".into(),
                lifetime_minutes: Some(120),
                usable_once: Some(true),
            },
            RuleTerms {
                name: "week".into(),
                lifetime_minutes: Some(10_080),
                usable_once: None,
            },
        ]
    }

    #[tokio::test]
    async fn the_check_names_misfitting_rules_and_missing_permissions() {
        let script = Arc::new(Script::default());
        let token = jwt(&["UserAuthMethod-TAP.ReadWrite.All", "Policy.Read.All"]);
        script.answer(200, None, &token_body(&token, 3600));
        script.answer(200, None, POLICY);
        let report = entra(script.clone()).check(&rules()).await;
        assert!(!report.ok);
        assert!(report.token.ok);
        assert_eq!(report.permissions.missing.len(), 1);
        assert_eq!(report.permissions.missing[0].permission, "User.Read.All");
        assert_eq!(report.policy.enabled, Some(true));
        assert_eq!(report.rules[0].fits, Some(true));
        assert_eq!(report.rules[1].fits, Some(false));
        assert!(report.rules[1].problems[0].contains("between 60 and 480"));
        let text = report.to_text();
        assert!(text.contains("MISSING: User.Read.All"), "{text}");
        assert!(text.contains("\"week\" DOES NOT FIT"), "{text}");
        assert!(text.contains("NOT READY"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["rules"][1]["lifetimeInMinutes"], 10_080);
        assert_eq!(
            json["permissions"]["missing"][0]["anyOf"][0],
            "User.Read.All"
        );
        assert!(
            !json.to_string().contains(&token),
            "the token is never shown"
        );
        assert!(!text.contains(&token));
    }

    #[tokio::test]
    async fn a_healthy_tenant_is_ok() {
        let script = Arc::new(Script::default());
        let token = jwt(&[
            "UserAuthenticationMethod.ReadWrite.All",
            "User.Read.All",
            "Policy.Read.All",
        ]);
        script.answer(200, None, &token_body(&token, 3600));
        script.answer(200, None, POLICY);
        let report = entra(script).check(&rules()[..1]).await;
        assert!(report.ok, "{}", report.to_text());
        assert!(report.to_text().contains("ok: tapbridge can mint passes"));
    }

    #[tokio::test]
    async fn a_refused_token_or_policy_is_reported_not_raised() {
        let script = Arc::new(Script::default());
        script.answer(401, None, r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#);
        let report = entra(script.clone()).check(&rules()).await;
        assert!(!report.ok && !report.token.ok);
        assert_eq!(
            report.token.error.as_ref().unwrap().code.as_deref(),
            Some("invalid_client")
        );
        assert_eq!(report.rules[0].fits, None);
        assert!(
            report
                .to_text()
                .contains("FAILED: 401 invalid_client: AADSTS7000215")
        );

        let script = Arc::new(Script::default());
        script.answer(200, None, &token_body(&jwt(&["User.Read.All"]), 3600));
        script.answer(403, None, r#"{"error":{"code":"accessDenied","message":"Request Authorization failed","innerError":{}}}"#);
        let report = entra(script).check(&rules()).await;
        assert!(!report.ok);
        assert_eq!(report.policy.error.as_ref().unwrap().status, Some(403));
        assert!(
            report
                .to_text()
                .contains("cannot be read: 403 accessDenied")
        );
    }
}
