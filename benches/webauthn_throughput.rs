//! Passkey ceremony throughput through the real store, next to the cost of the verification
//! alone (CBOR and client-data parsing, SHA-256 and the ECDSA P-256 signature check, no
//! database).
//!
//! `cargo bench --bench webauthn_throughput [-- N]` (default 300 of each). Only the `finish`
//! step is timed: the options (`start`) and the software authenticator's signing run outside
//! the clock, as they would run in the browser and in an earlier request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use plugin::clock::SystemClock;
use plugin::domain::directory::{NewUser, UserRef};
use plugin::domain::session::SessionTimeouts;
use plugin::domain::tap_policy::TapRequest;
use plugin::platform::{
    Caller, PassAttempt, Passwordless, PasswordlessSettings, Platform, PlatformSettings, SignedIn,
};
use plugin::secret::ServerSecret;
use plugin::store::{DatabaseSettings, Durability, Store};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url,
};

const ORIGIN: &str = "http://localhost:8080/";

fn print(what: &str, ops: usize, elapsed: Duration) {
    let per_sec = ops as f64 / elapsed.as_secs_f64();
    let us = elapsed.as_secs_f64() * 1e6 / ops as f64;
    println!("{what:<62} {per_sec:>9.0}/s {us:>9.1} µs/op");
}

/// What a discoverable authenticator does that the software one cannot: no resident key asked
/// for at creation, the user handle returned at sign-in.
fn create(
    key: &mut SoftPasskey,
    mut options: CreationChallengeResponse,
) -> RegisterPublicKeyCredential {
    if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
        sel.require_resident_key = false;
        sel.resident_key = None;
    }
    key.do_registration(Url::parse(ORIGIN).expect("url"), options)
        .expect("registration")
}

fn assert_with(
    key: &mut SoftPasskey,
    mut options: RequestChallengeResponse,
    credential_id: &Value,
    handle: &str,
) -> PublicKeyCredential {
    options.public_key.allow_credentials = vec![
        serde_json::from_value(json!({"type": "public-key", "id": credential_id})).expect("id"),
    ];
    options.mediation = None;
    let a = key
        .do_authentication(Url::parse(ORIGIN).expect("url"), options)
        .expect("assertion");
    let mut v = serde_json::to_value(&a).expect("json");
    v["response"]["userHandle"] = json!(handle);
    serde_json::from_value(v).expect("assertion json")
}

async fn service(dir: &std::path::Path, durability: Durability) -> Arc<Passwordless> {
    let mut settings = DatabaseSettings::at(dir.join(format!("bench-{durability:?}.db")));
    settings.durability = durability;
    let store = Store::open(&settings).await.expect("store");
    let secret = ServerSecret::from_bytes(vec![9; 32]).expect("secret");
    let platform = Arc::new(Platform::new(
        store,
        Arc::new(SystemClock),
        &secret,
        PlatformSettings::default(),
        Arc::default(),
    ));
    let webauthn = plugin::platform::passkeys::verifier("localhost", "bench", &[ORIGIN.into()])
        .expect("verifier");
    Arc::new(Passwordless::new(
        platform,
        webauthn,
        &secret,
        PasswordlessSettings {
            timeouts: SessionTimeouts::default(),
            attestation_cas: None,
        },
    ))
}

async fn through_the_store(n: usize, durability: Durability) {
    let dir = tempfile::tempdir().expect("dir");
    let svc = service(dir.path(), durability).await;
    let user = svc
        .platform()
        .create_user(
            &Caller::operator(),
            NewUser {
                user_principal_name: "bench@example.com".into(),
                account_enabled: true,
                ..Default::default()
            },
        )
        .await
        .expect("user");
    // Registration needs a live session: a multi-use pass opens one (which stays open
    // through every registration below).
    let issued = svc
        .platform()
        .issue_tap(
            &Caller::operator(),
            &UserRef::Id(user.id),
            TapRequest {
                start_date_time: None,
                lifetime_in_minutes: Some(60),
                is_usable_once: Some(false),
            },
        )
        .await
        .expect("pass");
    let opened = svc
        .sign_in_with_pass(PassAttempt {
            user_principal_name: &user.user_principal_name,
            pass: &issued.pass,
            client_address: None,
            correlation_id: None,
        })
        .await
        .expect("pass session");
    let signed_in = SignedIn {
        session: opened.session,
        user,
    };

    let mut keys = Vec::with_capacity(n);
    let mut spent = Duration::ZERO;
    for _ in 0..n {
        let (ceremony, options) = svc.start_registration(&signed_in).await.expect("start");
        let handle = URL_SAFE_NO_PAD.encode(&options.public_key.user.id);
        let mut key = SoftPasskey::new(true);
        let answer = create(&mut key, options);
        let id = serde_json::to_value(&answer).expect("json")["rawId"].clone();
        let t = Instant::now();
        svc.finish_registration(&signed_in, &ceremony, &answer, "", None)
            .await
            .expect("finish registration");
        spent += t.elapsed();
        keys.push((key, id, handle));
    }
    print(
        &format!("registration finish, store ({durability:?})"),
        n,
        spent,
    );

    let mut spent = Duration::ZERO;
    for (key, id, handle) in keys.iter_mut() {
        let (ceremony, options) = svc.start_sign_in().await.expect("start");
        let answer = assert_with(key, options, id, handle);
        let t = Instant::now();
        svc.finish_sign_in(&ceremony, &answer, None, None)
            .await
            .expect("finish sign-in");
        spent += t.elapsed();
    }
    print(
        &format!("sign-in finish + session, store ({durability:?})"),
        n,
        spent,
    );
    svc.platform().store().close().await;
}

fn verifier_alone(n: usize) {
    let webauthn =
        plugin::platform::passkeys::verifier("localhost", "bench", &[ORIGIN.into()]).expect("v");
    let mut key = SoftPasskey::new(true);
    let (options, state) = webauthn
        .start_passkey_registration(uuid::Uuid::new_v4(), "b", "b", None)
        .expect("start");
    let answer = create(&mut key, options);
    let t = Instant::now();
    let passkey = webauthn
        .finish_passkey_registration(&answer, &state)
        .expect("finish");
    let registration = t.elapsed();
    let mut spent = Duration::ZERO;
    for _ in 0..n {
        let (options, state) = webauthn
            .start_passkey_authentication(std::slice::from_ref(&passkey))
            .expect("start");
        let assertion = key
            .do_authentication(Url::parse(ORIGIN).expect("url"), options)
            .expect("assertion");
        let t = Instant::now();
        webauthn
            .finish_passkey_authentication(&assertion, &state)
            .expect("verify");
        spent += t.elapsed();
    }
    print("registration verify alone (one sample)", 1, registration);
    print(
        "assertion verify alone (parse + SHA-256 + ECDSA P-256)",
        n,
        spent,
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(300);
    println!("{n} ceremonies of each kind; finish step timed only");
    verifier_alone(n);
    through_the_store(n, Durability::Normal).await;
    through_the_store(n, Durability::Full).await;
}
