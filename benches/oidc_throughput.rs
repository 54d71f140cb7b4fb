//! Token-endpoint throughput through the real store: authorization-code exchanges and
//! refresh-token rotations per second (client authentication, the single-use check and the
//! writes, ES256 access and ID tokens), next to the floors they stand on: an empty SQLite
//! write transaction, one ES256 signature, one keyed hash.
//!
//! `cargo bench --bench oidc_throughput [-- N]` (default 2000 exchanges). Prints one table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plugin::clock::SystemClock;
use plugin::domain::directory::NewUser;
use plugin::domain::oidc::OidcSettings;
use plugin::domain::oidc::authn::Authentication;
use plugin::domain::oidc::client::{NewApplication, RedirectPlatform};
use plugin::domain::oidc::grant::CodeDetail;
use plugin::domain::oidc::keys::Trigger;
use plugin::domain::oidc::scope::Scopes;
use plugin::jose::{Alg, SigningKey};
use plugin::platform::oidc_client_auth::ClientAuth;
use plugin::platform::{Caller, Oidc, Platform, PlatformSettings};
use plugin::secret::{Purpose, SecretString, ServerSecret, random_bytes};
use plugin::store::{DatabaseSettings, Durability, Store, oidc_grants};

const CB: &str = "https://app.example.com/cb";

struct Row {
    what: String,
    ops: usize,
    elapsed: Duration,
}

impl Row {
    fn print(&self) {
        let per_sec = self.ops as f64 / self.elapsed.as_secs_f64();
        let us = self.elapsed.as_secs_f64() * 1e6 / self.ops as f64;
        println!("{:<58} {:>10.0}/s {:>9.1} µs/op", self.what, per_sec, us);
    }
}

fn secret() -> ServerSecret {
    ServerSecret::from_bytes(vec![9; 32]).expect("secret")
}

struct Bench {
    platform: Arc<Platform>,
    oidc: Arc<Oidc>,
    client_id: String,
    client_secret: String,
    user_id: uuid::Uuid,
}

async fn setup(dir: &std::path::Path, durability: Durability) -> Bench {
    let mut settings = DatabaseSettings::at(dir.join(format!("oidc-{durability:?}.db")));
    settings.durability = durability;
    let store = Store::open(&settings).await.expect("store");
    let platform = Arc::new(Platform::new(
        store,
        Arc::new(SystemClock),
        &secret(),
        PlatformSettings::default(),
        Arc::default(),
    ));
    let oidc = Arc::new(Oidc::new(
        platform.clone(),
        &secret(),
        OidcSettings::with_issuer("http://localhost:8080"),
    ));
    let op = Caller::operator();
    oidc.rotate_keys(&op, Trigger::Schedule, None)
        .await
        .expect("keys");
    let user = platform
        .create_user(
            &op,
            NewUser {
                user_principal_name: "bench@example.com".into(),
                display_name: Some("Bench User".into()),
                mail: Some("bench@example.com".into()),
                account_enabled: true,
                ..Default::default()
            },
        )
        .await
        .expect("user");
    let app = platform
        .create_application(
            &op,
            NewApplication {
                display_name: "Bench".into(),
                web_redirect_uris: vec![CB.into()],
                ..Default::default()
            },
        )
        .await
        .expect("app");
    let (_, added) = platform
        .add_application_password(&op, app.id, None, None)
        .await
        .expect("secret");
    Bench {
        platform,
        oidc,
        client_id: app.app_id.to_string(),
        client_secret: added.secret_text.expose().to_owned(),
        user_id: user.id,
    }
}

/// Codes as the authorization endpoint leaves them (not timed).
async fn codes(b: &Bench, n: usize) -> Vec<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let hasher = secret().hasher(Purpose::OAuthToken);
    let now = b.platform.now();
    let detail = CodeDetail {
        redirect_uri: CB.into(),
        platform: RedirectPlatform::Web,
        code_challenge: None,
        nonce: Some("n".into()),
        scopes: Scopes::parse("openid profile email offline_access"),
        authentication: Authentication {
            user_id: b.user_id,
            at: now,
            method_id: uuid::Uuid::nil(),
            backup_eligible: true,
            user_verified: true,
        },
        session_id: "bench".into(),
    };
    let client = uuid::Uuid::parse_str(&b.client_id).unwrap();
    let mut out = Vec::with_capacity(n);
    let mut tx = b.platform.store().write().await.expect("tx");
    for _ in 0..n {
        let (id, s) = (
            b64.encode(random_bytes::<16>()),
            b64.encode(random_bytes::<32>()),
        );
        let hash = hasher.hash(id.as_bytes(), s.as_bytes());
        oidc_grants::insert_code(
            &mut tx,
            &id,
            &hash,
            client,
            b.user_id,
            &detail,
            now,
            now + time::Duration::hours(1),
        )
        .await
        .expect("code");
        out.push(format!("{id}.{s}"));
    }
    tx.commit().await.expect("commit");
    out
}

fn auth(b: &Bench) -> ClientAuth {
    ClientAuth::Basic {
        client_id: b.client_id.clone(),
        secret: SecretString::new(b.client_secret.clone()),
    }
}

/// Runs `per` over `items` in `concurrency` tasks; returns the elapsed time and the outputs.
async fn run<T, O, F, Fut>(
    b: &Arc<Bench>,
    items: Vec<T>,
    concurrency: usize,
    per: F,
) -> (Duration, Vec<O>)
where
    T: Send + 'static,
    O: Send + 'static,
    F: Fn(Arc<Bench>, T) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = O> + Send,
{
    let started = Instant::now();
    let size = items.len().div_ceil(concurrency);
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(size).collect());
    }
    let mut handles = Vec::new();
    for chunk in chunks {
        let b = b.clone();
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for item in chunk {
                out.push(per(b.clone(), item).await);
            }
            out
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.extend(h.await.expect("task"));
    }
    (started.elapsed(), out)
}

async fn exchange(b: Arc<Bench>, code: String) -> String {
    let client = b.oidc.authenticate_client(auth(&b)).await.expect("client");
    let t = b
        .oidc
        .exchange_code(&client, &code, Some(CB), None)
        .await
        .expect("exchange");
    t.refresh_token.expect("refresh token")
}

async fn refresh(b: Arc<Bench>, token: String) -> String {
    let client = b.oidc.authenticate_client(auth(&b)).await.expect("client");
    let t = b
        .oidc
        .refresh(&client, &token, None)
        .await
        .expect("refresh");
    t.refresh_token.expect("refresh token")
}

/// One write transaction with one insert per op: the floor under any write that must be
/// durable on its own.
async fn raw_transactions(p: &Platform, n: usize) -> Row {
    let mut tx = p.store().write().await.expect("tx");
    tx.batch("CREATE TABLE IF NOT EXISTS bench_floor (id INTEGER PRIMARY KEY, v BLOB)")
        .await
        .expect("table");
    tx.commit().await.expect("commit");
    let started = Instant::now();
    for i in 0..n {
        let mut tx = p.store().write().await.expect("tx");
        plugin::store::query("INSERT INTO bench_floor (v) VALUES (?)")
            .bind(i.to_le_bytes().to_vec())
            .execute(&mut tx)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
    }
    Row {
        what: "  floor: empty write transaction (1 insert)".into(),
        ops: n,
        elapsed: started.elapsed(),
    }
}

fn signing_rate(alg: Alg, n: usize) -> Row {
    let (key, _) = SigningKey::generate(alg, "bench").expect("key");
    let claims = serde_json::json!({
        "iss": "http://localhost:8080", "sub": uuid::Uuid::new_v4(), "aud": "http://localhost:8080",
        "scope": "openid profile email offline_access", "iat": 1, "exp": 2, "jti": uuid::Uuid::new_v4(),
    });
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(plugin::jose::sign(&key, "at+jwt", &claims).expect("sign"));
    }
    Row {
        what: format!("  one {alg} JWT signature"),
        ops: n,
        elapsed: started.elapsed(),
    }
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        println!(
            "tapbridge token endpoint throughput, {n} operations per row, {} cores",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        signing_rate(Alg::Es256, 20_000).print();
        signing_rate(Alg::Rs256, 2_000).print();
        for durability in [Durability::Full, Durability::Normal] {
            println!("\nSQLite synchronous = {durability:?}");
            let b = Arc::new(setup(dir.path(), durability).await);
            raw_transactions(&b.platform, n).await.print();
            for concurrency in [1, 8] {
                let items = codes(&b, n).await;
                let (elapsed, refresh_tokens) = run(&b, items, concurrency, exchange).await;
                Row {
                    what: format!("  authorization_code exchange ({concurrency} concurrent)"),
                    ops: n,
                    elapsed,
                }
                .print();
                let (elapsed, _) = run(&b, refresh_tokens, concurrency, refresh).await;
                Row {
                    what: format!("  refresh_token rotation ({concurrency} concurrent)"),
                    ops: n,
                    elapsed,
                }
                .print();
            }
        }
    });
}
