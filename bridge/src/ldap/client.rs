//! The LDAP wire side: connect and bind (plain, StartTLS, LDAPS), paged searches read page by
//! page, and RFC 4533 refreshOnly searches read message by message.
//!
//! The protocol is spoken here rather than through `ldap3`: its codec parsed every message
//! into a tree of owned tags and cloned that tree before handing it on, which measured at a
//! fifth of a steady-state sync's CPU, and the entries then had to be copied once more out of
//! the tree. Here a message stays the bytes it arrived in ([`conn`]), is checked by the strict
//! BER reader ([`message`]), and a search result entry is read in place as an [`EntryView`].
//! Everything the server sends is decoded without panicking; every wait is bounded by the
//! operation timeout. `ldap3` still parses filters (the same grammar the configuration is
//! checked with).

mod conn;
pub mod message;

use std::time::Duration;

pub use ldap3::Scope;
use ldap3::asn1::ASNTag;

use super::config::SourceConfig;
use super::controls::Control;
use super::controls::content_sync::{
    E_SYNC_REFRESH_REQUIRED, SYNC_DONE_OID, SYNC_STATE_OID, SyncDone, SyncInfo, SyncMode,
    SyncRequest, SyncState,
};
use super::controls::paged::{PAGED_RESULTS_OID, PagedResults};
use super::entry::{Entry, EntryView};
use super::tls;
use crate::error::{Error, Result};
use conn::Conn;
pub use message::Message;
use message::{
    BIND_RESPONSE, INTERMEDIATE, SEARCH_DONE, SEARCH_ENTRY, SEARCH_REFERENCE, SearchScope,
};

/// A bound connection to one source. One operation at a time: starting a search abandons
/// one whose answers are still coming, and those are skipped.
pub struct Client {
    conn: Conn,
    last_id: i32,
    /// The search whose answers are still coming, if any.
    open: Option<i32>,
}

/// The BER encoding of an RFC 4515 filter.
fn encode_filter(filter: &str) -> Result<Vec<u8>> {
    let tag = ldap3::parse_filter(filter)
        .map_err(|_| Error::Ldap(format!("`{filter}` is not a valid LDAP filter")))?;
    let mut out = bytes::BytesMut::new();
    ldap3::asn1::write::encode_into(&mut out, tag.into_structure())
        .map_err(|e| Error::Ldap(format!("cannot encode `{filter}`: {e}")))?;
    Ok(out.to_vec())
}

fn scope(s: Scope) -> SearchScope {
    match s {
        Scope::Base => SearchScope::Base,
        Scope::OneLevel => SearchScope::OneLevel,
        Scope::Subtree => SearchScope::Subtree,
    }
}

fn unexpected(m: &Message) -> Error {
    Error::Ldap(format!("unexpected message from the server: {}", m.op))
}

impl Client {
    pub async fn connect(cfg: &SourceConfig) -> Result<Client> {
        tls::install_crypto_provider();
        let conn = Conn::open(cfg).await?;
        let mut client = Client {
            conn,
            last_id: 1,
            open: None,
        };
        if !cfg.bind_dn.is_empty() {
            let password = cfg.password.as_ref().map(|p| p.expose()).unwrap_or("");
            let id = client.next_id();
            let request = message::bind_request(id, &cfg.bind_dn, password.as_bytes());
            client.conn.send(&request).await?;
            let reply = client.reply(id).await?;
            if reply.op != BIND_RESPONSE {
                return Err(unexpected(&reply));
            }
            let res = reply.result().map_err(Error::Ldap)?;
            if res.rc != 0 {
                // The server's text may echo the DN, never the password.
                return Err(Error::Ldap(format!(
                    "bind as `{}` refused (result code {}): {}",
                    cfg.bind_dn, res.rc, res.text
                )));
            }
        }
        Ok(client)
    }

    fn next_id(&mut self) -> i32 {
        // IDs are positive (0 is the server's unsolicited notification); after 2^31 − 1
        // requests they start again at 1.
        self.last_id = self.last_id.checked_add(1).unwrap_or(1);
        self.last_id
    }

    /// Sends a search request; a search whose answers are still coming is abandoned first.
    async fn start_search(
        &mut self,
        base: &str,
        scope: SearchScope,
        filter: &[u8],
        attrs: &[String],
        controls: &[Control],
    ) -> Result<i32> {
        if let Some(old) = self.open.take() {
            let id = self.next_id();
            self.conn.send(&message::abandon_request(id, old)).await?;
        }
        let id = self.next_id();
        let request = message::search_request(id, base, scope, filter, attrs, controls);
        self.conn.send(&request).await?;
        self.open = Some(id);
        Ok(id)
    }

    /// The next message answering request `id`. Late answers to an abandoned search are
    /// skipped; a notice of disconnection (message 0) ends the connection with its reason.
    async fn reply(&mut self, id: i32) -> Result<Message> {
        loop {
            let m = self.conn.receive().await?;
            if m.id == id {
                if m.op == SEARCH_DONE {
                    self.open = None;
                }
                return Ok(m);
            }
            if m.id == 0 {
                let why = m
                    .result()
                    .map(|r| format!("result code {}: {}", r.rc, r.text))
                    .unwrap_or_else(|e| e);
                return Err(Error::Ldap(format!(
                    "the server ends the connection ({why})"
                )));
            }
        }
    }

    /// A paged search (RFC 2696), read one page at a time with [`PagedSearch::next_page`].
    pub fn paged<'c>(
        &'c mut self,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
        page_size: u32,
    ) -> PagedSearch<'c> {
        self.paged_with(base, filter, attrs, page_size, Vec::new())
    }

    /// A paged search that sends `extra` controls (AD Show Deleted) with every page.
    pub fn paged_with<'c>(
        &'c mut self,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
        page_size: u32,
        extra: Vec<Control>,
    ) -> PagedSearch<'c> {
        PagedSearch {
            client: self,
            base: base.to_owned(),
            filter: filter.to_owned(),
            encoded: None,
            attrs,
            page_size,
            extra,
            cookie: Vec::new(),
            done: false,
        }
    }

    /// One search read to its end: for small answers (the root DSE, one entry, one DirSync
    /// round, whose size the server bounds). The result code is the caller's to judge.
    pub async fn search_all(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: Vec<String>,
        controls: Vec<Control>,
    ) -> Result<Answer> {
        let filter = encode_filter(filter)?;
        let id = self
            .start_search(base, self::scope(scope), &filter, &attrs, &controls)
            .await?;
        let mut entries = Vec::new();
        loop {
            let m = self.reply(id).await?;
            match m.op {
                SEARCH_ENTRY => entries.push(m.entry().map(|e| e.to_entry())),
                SEARCH_REFERENCE | INTERMEDIATE => {}
                SEARCH_DONE => {
                    let res = m.result().map_err(Error::Ldap)?;
                    return Ok(Answer {
                        entries,
                        rc: res.rc,
                        text: res.text,
                        controls: m.controls().map_err(Error::Ldap)?,
                    });
                }
                _ => return Err(unexpected(&m)),
            }
        }
    }

    /// Reads the values an attribute was cut into (`member;range=0-1499`, AD's MaxValRange)
    /// until the server sends the last range (`…-*`), and files them under the plain name.
    pub async fn complete_ranges(&mut self, entry: &mut Entry) -> Result<()> {
        let ranged: Vec<String> = entry
            .attrs
            .keys()
            .filter(|k| k.contains(";range="))
            .cloned()
            .collect();
        for key in ranged {
            let Some(mut values) = entry.attrs.remove(&key) else {
                continue;
            };
            let Some(mut range) = Range::parse(&key) else {
                return Err(Error::Ldap(format!(
                    "`{}`: unreadable ranged attribute `{key}`",
                    entry.dn
                )));
            };
            let mut rounds = 0;
            while let Some(next) = range.next_start() {
                rounds += 1;
                // A server that never reaches `*` would keep us here for ever.
                if rounds > 100_000 {
                    return Err(Error::Ldap(format!("`{}`: endless ranges", entry.dn)));
                }
                let ask = format!("{};range={next}-*", range.name);
                let answer = self
                    .search_all(
                        &entry.dn,
                        Scope::Base,
                        "(objectClass=*)",
                        vec![ask],
                        Vec::new(),
                    )
                    .await?;
                if answer.rc != 0 {
                    return Err(Error::Ldap(format!(
                        "`{}`: reading {} values from {next} failed (result code {}): {}",
                        entry.dn, range.name, answer.rc, answer.text
                    )));
                }
                let part = answer
                    .entries
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::Ldap(format!("`{}` vanished mid-read", entry.dn)))?
                    .map_err(Error::Ldap)?;
                let Some((k, v)) = part
                    .attrs
                    .into_iter()
                    .find(|(k, _)| Range::parse(k).is_some_and(|r| r.name == range.name))
                else {
                    break;
                };
                let Some(r) = Range::parse(&k).filter(|r| r.start == next) else {
                    return Err(Error::Ldap(format!(
                        "`{}`: asked for {} from {next}, got `{k}`",
                        entry.dn, range.name
                    )));
                };
                values.extend(v);
                range = r;
            }
            entry.attrs.entry(range.name).or_default().extend(values);
        }
        Ok(())
    }

    /// An RFC 4533 refreshOnly search from `cookie` (`None`: the whole content).
    pub async fn refresh<'c>(
        &'c mut self,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
        cookie: Option<Vec<u8>>,
    ) -> Result<RefreshSearch<'c>> {
        let request = SyncRequest {
            mode: SyncMode::RefreshOnly,
            cookie,
            reload_hint: false,
        };
        let filter = encode_filter(filter)?;
        let id = self
            .start_search(
                base,
                SearchScope::Subtree,
                &filter,
                &attrs,
                &[request.to_control()],
            )
            .await?;
        Ok(RefreshSearch { client: self, id })
    }

    /// Says goodbye and closes the connection, waiting at most two seconds.
    pub async fn unbind(mut self) {
        let id = self.next_id();
        let wait = Duration::from_secs(2);
        let _ = tokio::time::timeout(wait, self.conn.send(&message::unbind_request(id))).await;
        self.conn.close(wait).await;
    }
}

pub struct PagedSearch<'c> {
    client: &'c mut Client,
    base: String,
    filter: String,
    encoded: Option<Vec<u8>>,
    attrs: Vec<String>,
    page_size: u32,
    extra: Vec<Control>,
    cookie: Vec<u8>,
    done: bool,
}

/// What [`Client::search_all`] read.
#[derive(Debug)]
pub struct Answer {
    pub entries: Vec<Result<Entry, String>>,
    pub rc: u32,
    pub text: String,
    pub controls: Vec<Control>,
}

impl Answer {
    pub fn control(&self, oid: &str) -> Option<&Control> {
        self.controls.iter().find(|c| c.oid == oid)
    }
}

/// `name;range=start-end` (MS-ADTS 3.1.1.3.1.3.3); `end` is `None` for `*`, the last range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub name: String,
    pub start: u64,
    pub end: Option<u64>,
}

impl Range {
    pub fn parse(key: &str) -> Option<Range> {
        let (name, spec) = key.split_once(";range=")?;
        let (start, end) = spec.split_once('-')?;
        let start = start.parse().ok()?;
        let end = match end {
            "*" => None,
            n => Some(n.parse().ok().filter(|e| *e >= start)?),
        };
        Some(Range {
            name: name.to_ascii_lowercase(),
            start,
            end,
        })
    }

    /// Where the next range starts, `None` after the last one.
    pub fn next_start(&self) -> Option<u64> {
        self.end.map(|e| e + 1)
    }
}

impl PagedSearch<'_> {
    /// The next page of entries; `None` once the server signalled the last page. Entries that
    /// cannot be decoded come back as `Err` items so the caller quarantines them one by one.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Result<Entry, String>>>> {
        // Each message is dropped once its entry is copied out, not with the whole page.
        Ok(self.next_page_raw().await?.map(|page| {
            page.into_iter()
                .map(|m| m.entry().map(|e| EntryView::to_entry(&e)))
                .collect()
        }))
    }

    /// The next page as the messages that carried its entries, to be read with
    /// [`Message::entry`] wherever suits (the full read does it on another task while this
    /// one already waits for the next page); `None` after the last page.
    pub async fn next_page_raw(&mut self) -> Result<Option<Vec<Message>>> {
        if self.done {
            return Ok(None);
        }
        let filter = match self.encoded.take() {
            Some(f) => f,
            None => encode_filter(&self.filter)?,
        };
        let mut controls = vec![
            PagedResults {
                size: self.page_size,
                cookie: std::mem::take(&mut self.cookie),
            }
            .to_control(),
        ];
        controls.extend(self.extra.iter().cloned());
        let id = self
            .client
            .start_search(
                &self.base,
                SearchScope::Subtree,
                &filter,
                &self.attrs,
                &controls,
            )
            .await?;
        self.encoded = Some(filter);
        let mut page = Vec::with_capacity(self.page_size as usize);
        loop {
            let m = self.client.reply(id).await?;
            match m.op {
                SEARCH_ENTRY => page.push(m),
                SEARCH_REFERENCE | INTERMEDIATE => {}
                SEARCH_DONE => {
                    let res = m.result().map_err(Error::Ldap)?;
                    if res.rc != 0 {
                        return Err(Error::Ldap(format!(
                            "search of `{}` failed (result code {}): {}",
                            self.base, res.rc, res.text
                        )));
                    }
                    let controls = m.controls().map_err(Error::Ldap)?;
                    let paged = controls
                        .iter()
                        .find(|c| c.oid == PAGED_RESULTS_OID)
                        .ok_or_else(|| {
                            Error::Ldap("the server ignored the paged results control".into())
                        })?;
                    let paged = PagedResults::from_control(&paged.oid, paged.value.as_deref())
                        .map_err(|e| Error::Ldap(format!("bad paged results response: {e}")))?;
                    self.done = paged.is_last_page();
                    self.cookie = paged.cookie;
                    return Ok(Some(page));
                }
                _ => return Err(unexpected(&m)),
            }
        }
    }
}

/// One message of a refreshOnly search.
#[derive(Debug)]
pub enum SyncMessage {
    /// An entry with its Sync State (present entries carry no attributes).
    Entry(SyncState, Result<Entry, String>),
    Info(SyncInfo),
    /// The end: the final cookie and whether the refresh used the delete phase (deleted
    /// entries were listed) rather than the present phase (unlisted entries are gone).
    Done {
        cookie: Option<Vec<u8>>,
        refresh_deletes: bool,
    },
    /// The server wants a full reload (e-syncRefreshRequired): the cookie is too old.
    RefreshRequired,
}

pub struct RefreshSearch<'c> {
    client: &'c mut Client,
    id: i32,
}

impl RefreshSearch<'_> {
    pub async fn next(&mut self) -> Result<SyncMessage> {
        loop {
            let m = self.client.reply(self.id).await?;
            match m.op {
                SEARCH_REFERENCE => {}
                INTERMEDIATE => {
                    let (name, value) = m.intermediate().map_err(Error::Ldap)?;
                    let info = SyncInfo::from_intermediate(name.as_deref(), value.as_deref())
                        .map_err(|e| Error::Ldap(format!("bad Sync Info message: {e}")))?;
                    return Ok(SyncMessage::Info(info));
                }
                SEARCH_ENTRY => {
                    let controls = m.controls().map_err(Error::Ldap)?;
                    let state = controls
                        .iter()
                        .find(|c| c.oid == SYNC_STATE_OID)
                        .ok_or_else(|| Error::Ldap("an entry without Sync State control".into()))?;
                    let state = SyncState::from_control(&state.oid, state.value.as_deref())
                        .map_err(|e| Error::Ldap(format!("bad Sync State control: {e}")))?;
                    return Ok(SyncMessage::Entry(state, m.entry().map(|e| e.to_entry())));
                }
                SEARCH_DONE => return done(&m),
                _ => return Err(unexpected(&m)),
            }
        }
    }
}

fn done(m: &Message) -> Result<SyncMessage> {
    let res = m.result().map_err(Error::Ldap)?;
    if res.rc == E_SYNC_REFRESH_REQUIRED {
        return Ok(SyncMessage::RefreshRequired);
    }
    if res.rc != 0 {
        return Err(Error::Ldap(format!(
            "sync search failed (result code {}): {}",
            res.rc, res.text
        )));
    }
    let controls = m.controls().map_err(Error::Ldap)?;
    match controls.iter().find(|c| c.oid == SYNC_DONE_OID) {
        Some(c) => {
            let done = SyncDone::from_control(&c.oid, c.value.as_deref())
                .map_err(|e| Error::Ldap(format!("bad Sync Done control: {e}")))?;
            Ok(SyncMessage::Done {
                cookie: done.cookie,
                refresh_deletes: done.refresh_deletes,
            })
        }
        None => Err(Error::Ldap(
            "the server does not support content synchronization (no Sync Done control)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::message::testing::{done, entry_body, response, result_body};
    use super::message::{ABANDON_REQUEST, BIND_REQUEST, SEARCH_REQUEST, UNBIND_REQUEST};
    use super::*;
    use crate::ldap::controls::ber::Tag;
    use crate::ldap::controls::content_sync::EntryState;
    use crate::ldap::controls::guid::EntryUuid;
    use bytes::{Bytes, BytesMut};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    /// An in-process server that answers each request as `answer` says and hands back
    /// every request it got once the client hangs up.
    async fn fake(
        mut answer: impl FnMut(&Message) -> Vec<Bytes> + Send + 'static,
    ) -> (SourceConfig, JoinHandle<Vec<Message>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cfg = SourceConfig {
            url: format!("ldap://{}", listener.local_addr().unwrap()),
            bind_dn: "cn=admin,dc=x".into(),
            password: Some(plugin::secret::SecretString::new("pw".into())),
            operation_timeout_seconds: 5,
            ..Default::default()
        };
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = BytesMut::new();
            let mut seen = Vec::new();
            loop {
                let n = loop {
                    match message::frame_length(&buf).unwrap() {
                        Some(n) if buf.len() >= n => break n,
                        _ => {
                            if s.read_buf(&mut buf).await.unwrap() == 0 {
                                return seen;
                            }
                        }
                    }
                };
                let m = Message::parse(buf.split_to(n).freeze()).unwrap();
                for reply in answer(&m) {
                    s.write_all(&reply).await.unwrap();
                }
                seen.push(m);
            }
        });
        (cfg, server)
    }

    fn bound(m: &Message) -> Option<Vec<Bytes>> {
        (m.op == BIND_REQUEST)
            .then(|| vec![response(m.id, BIND_RESPONSE, &result_body(0, "", &[]), &[])])
    }

    fn entry(id: i32, dn: &str) -> Bytes {
        response(id, SEARCH_ENTRY, &entry_body(dn, &[("cn", &[b"x"])]), &[])
    }

    fn paged_cookie(m: &Message) -> Vec<u8> {
        let controls = m.controls().unwrap();
        let c = controls
            .iter()
            .find(|c| c.oid == PAGED_RESULTS_OID)
            .unwrap();
        PagedResults::from_control(&c.oid, c.value.as_deref())
            .unwrap()
            .cookie
    }

    #[tokio::test]
    async fn binds_then_pages_through_a_search_with_the_server_s_cookies() {
        let (cfg, server) = fake(|m| {
            if let Some(r) = bound(m) {
                return r;
            }
            if m.op != SEARCH_REQUEST {
                return Vec::new();
            }
            match paged_cookie(m).as_slice() {
                b"" => vec![
                    entry(m.id, "cn=a,dc=x"),
                    entry(m.id, "cn=b,dc=x"),
                    done(m.id, 0, Some(b"p2")),
                ],
                // A reference on the way is skipped, and an empty cookie ends the search.
                b"p2" => vec![
                    response(m.id, SEARCH_REFERENCE, &[0x04, 0x01, b'u'], &[]),
                    entry(m.id, "cn=c,dc=x"),
                    done(m.id, 0, Some(b"")),
                ],
                _ => vec![done(m.id, 1, None)],
            }
        })
        .await;
        let mut client = Client::connect(&cfg).await.unwrap();
        let mut search = client.paged("dc=x", "(cn=*)", vec!["cn".into()], 2);
        let first = search.next_page().await.unwrap().unwrap();
        let second = search.next_page().await.unwrap().unwrap();
        assert!(search.next_page().await.unwrap().is_none());
        let dns = |page: Vec<Result<Entry, String>>| -> Vec<String> {
            page.into_iter().map(|e| e.unwrap().dn).collect()
        };
        assert_eq!(dns(first), ["cn=a,dc=x", "cn=b,dc=x"]);
        assert_eq!(dns(second), ["cn=c,dc=x"]);
        client.unbind().await;
        let seen = server.await.unwrap();
        let ops: Vec<Tag> = seen.iter().map(|m| m.op).collect();
        assert_eq!(
            ops,
            [BIND_REQUEST, SEARCH_REQUEST, SEARCH_REQUEST, UNBIND_REQUEST]
        );
        assert_eq!(paged_cookie(&seen[2]), b"p2");
        // The bind carried the DN and the password, and nothing else.
        assert!(seen[0].body().windows(13).any(|w| w == b"cn=admin,dc=x"));
        assert!(seen[0].body().ends_with(&[0x80, 0x02, b'p', b'w']));
    }

    #[tokio::test]
    async fn refusals_and_failures_name_the_server_s_reason() {
        let (cfg, _server) = fake(|m| {
            vec![response(
                m.id,
                BIND_RESPONSE,
                &result_body(49, "invalid credentials", &[]),
                &[],
            )]
        })
        .await;
        let err = Client::connect(&cfg).await.err().unwrap().to_string();
        assert!(
            err.contains("refused (result code 49): invalid credentials"),
            "{err}"
        );

        let (cfg, _server) = fake(|m| bound(m).unwrap_or_else(|| vec![done(m.id, 53, None)])).await;
        let mut client = Client::connect(&cfg).await.unwrap();
        let err = client
            .paged("dc=x", "(cn=*)", vec![], 10)
            .next_page()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("result code 53"), "{err}");

        // No paged results control in the answer: refused rather than read as the last page.
        let (cfg, _server) = fake(|m| bound(m).unwrap_or_else(|| vec![done(m.id, 0, None)])).await;
        let mut client = Client::connect(&cfg).await.unwrap();
        let err = client
            .paged("dc=x", "(cn=*)", vec![], 10)
            .next_page()
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("ignored the paged results"),
            "{err}"
        );

        // A notice of disconnection (message 0) ends the read with its reason.
        let (cfg, _server) = fake(|m| {
            bound(m).unwrap_or_else(|| {
                vec![response(
                    0,
                    message::EXTENDED_RESPONSE,
                    &result_body(52, "shutting down", &[]),
                    &[],
                )]
            })
        })
        .await;
        let mut client = Client::connect(&cfg).await.unwrap();
        let err = client
            .search_all("dc=x", Scope::Base, "(cn=*)", vec![], vec![])
            .await;
        let err = err.unwrap_err().to_string();
        assert!(
            err.contains("ends the connection") && err.contains("shutting down"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_search_left_unfinished_is_abandoned_and_its_late_answers_skipped() {
        let state = |s: EntryState| {
            SyncState {
                state: s,
                entry_uuid: EntryUuid::from_bytes([7; 16]),
                cookie: None,
            }
            .to_control()
        };
        let mut refresh_id = 0;
        let (cfg, server) = fake(move |m| {
            if let Some(r) = bound(m) {
                return r;
            }
            match m.op {
                // The refresh: one entry now, more later.
                SEARCH_REQUEST if refresh_id == 0 => {
                    refresh_id = m.id;
                    let body = entry_body("cn=a,dc=x", &[("cn", &[b"a"])]);
                    vec![response(
                        m.id,
                        SEARCH_ENTRY,
                        &body,
                        &[state(EntryState::Add)],
                    )]
                }
                // Answered before the abandon was seen: the refresh's rest comes first.
                ABANDON_REQUEST => vec![
                    entry(refresh_id, "cn=late,dc=x"),
                    response(refresh_id, SEARCH_DONE, &result_body(0, "", &[]), &[]),
                ],
                SEARCH_REQUEST => vec![entry(m.id, "cn=root"), done(m.id, 0, None)],
                _ => Vec::new(),
            }
        })
        .await;
        let mut client = Client::connect(&cfg).await.unwrap();
        let mut refresh = client
            .refresh("dc=x", "(cn=*)", vec![], None)
            .await
            .unwrap();
        match refresh.next().await.unwrap() {
            SyncMessage::Entry(st, e) => {
                assert_eq!(st.state, EntryState::Add);
                assert_eq!(e.unwrap().text("cn").unwrap(), Some("a"));
            }
            other => panic!("{other:?}"),
        }
        let answer = client
            .search_all("", Scope::Base, "(objectClass=*)", vec![], vec![])
            .await
            .unwrap();
        let dns: Vec<String> = answer.entries.into_iter().map(|e| e.unwrap().dn).collect();
        assert_eq!(dns, ["cn=root"]);
        assert_eq!(answer.rc, 0);
        client.unbind().await;
        let seen = server.await.unwrap();
        let abandon = seen.iter().find(|m| m.op == ABANDON_REQUEST).unwrap();
        assert_eq!(abandon.body(), [u8::try_from(seen[1].id).unwrap()]);
    }

    #[test]
    fn reads_ranges() {
        let r = Range::parse("member;range=0-1499").unwrap();
        assert_eq!((r.name.as_str(), r.start, r.end), ("member", 0, Some(1499)));
        assert_eq!(r.next_start(), Some(1500));
        let last = Range::parse("Member;range=1500-*").unwrap();
        assert_eq!((last.name.as_str(), last.next_start()), ("member", None));
        for bad in [
            "member",
            "member;range=",
            "member;range=a-b",
            "member;range=5-1",
            "member;range=-1-*",
            "member;range=0",
        ] {
            assert_eq!(Range::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn filters_encode_as_before() {
        // (&(objectClass=person)(!(mail=*))): AND [0] of an equality [3] and a NOT [2] of a
        // present [7].
        let f = encode_filter("(&(objectClass=person)(!(mail=*)))").unwrap();
        assert_eq!(f.first(), Some(&0xa0));
        assert!(f.windows(6).any(|w| w == b"person"));
        assert!(encode_filter("(&(objectClass=person)").is_err());
        assert!(encode_filter("not a filter").is_err());
    }
}
