//! The LDAP wire side: connect and bind (plain, StartTLS, LDAPS), paged searches read page by
//! page, and RFC 4533 refreshOnly searches read message by message. Everything the server
//! sends is decoded without panicking; every wait is bounded by the operation timeout.

use std::time::Duration;

pub use ldap3::Scope;
use ldap3::asn1::{PL, StructureTag};
use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, SearchStream};

use super::config::SourceConfig;
use super::controls::Control;
use super::controls::content_sync::{
    SYNC_DONE_OID, SYNC_STATE_OID, SyncDone, SyncInfo, SyncMode, SyncRequest, SyncState,
};
use super::controls::paged::{PAGED_RESULTS_OID, PagedResults};
use super::entry::Entry;
use super::tls;
use crate::error::{Error, Result};

impl From<Control> for RawControl {
    fn from(c: Control) -> Self {
        RawControl {
            ctype: c.oid,
            crit: c.critical,
            val: c.value,
        }
    }
}

fn ldap_err(context: &str, e: impl std::fmt::Display) -> Error {
    Error::Ldap(format!("{context}: {e}"))
}

/// A bound connection to one source.
pub struct Client {
    ldap: Ldap,
    timeout: Duration,
}

impl Client {
    pub async fn connect(cfg: &SourceConfig) -> Result<Client> {
        tls::install_crypto_provider();
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(cfg.connect_timeout())
            .set_starttls(cfg.starttls)
            .set_no_tls_verify(!cfg.verify);
        if let (Some(ca), true) = (&cfg.ca_file, cfg.verify) {
            settings = settings.set_config(tls::client_config(ca).map_err(Error::Ldap)?);
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &cfg.url)
            .await
            .map_err(|e| ldap_err(&format!("cannot connect to {}", cfg.url), e))?;
        ldap3::drive!(conn);
        let timeout = cfg.operation_timeout();
        let password = cfg.password.as_ref().map(|p| p.expose()).unwrap_or("");
        if !cfg.bind_dn.is_empty() {
            let res = tokio::time::timeout(timeout, ldap.simple_bind(&cfg.bind_dn, password))
                .await
                .map_err(|_| Error::Ldap("bind timed out".into()))?
                .map_err(|e| ldap_err("bind failed", e))?;
            if res.rc != 0 {
                // The server's text may echo the DN, never the password.
                return Err(Error::Ldap(format!(
                    "bind as `{}` refused (result code {}): {}",
                    cfg.bind_dn, res.rc, res.text
                )));
            }
        }
        Ok(Client { ldap, timeout })
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
        let controls = controls.into_iter().map(RawControl::from).collect();
        let mut stream = self
            .search_scoped(base, scope, filter, attrs, controls)
            .await?;
        let entries = read_entries(&mut stream, self.timeout, 0).await?;
        let res = stream.finish().await;
        Ok(Answer {
            entries,
            rc: res.rc,
            text: res.text,
            controls: res
                .ctrls
                .into_iter()
                .map(|c| Control::new(c.1.ctype, c.1.crit, c.1.val))
                .collect(),
        })
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
    pub async fn refresh(
        &mut self,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
        cookie: Option<Vec<u8>>,
    ) -> Result<RefreshSearch> {
        let request = SyncRequest {
            mode: SyncMode::RefreshOnly,
            cookie,
            reload_hint: false,
        };
        let stream = self
            .search(base, filter, attrs, vec![request.to_control().into()])
            .await?;
        Ok(RefreshSearch {
            stream,
            timeout: self.timeout,
        })
    }

    async fn search(
        &mut self,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
        controls: Vec<RawControl>,
    ) -> Result<SearchStream<'static, String, Vec<String>>> {
        self.search_scoped(base, Scope::Subtree, filter, attrs, controls)
            .await
    }

    async fn search_scoped(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: Vec<String>,
        controls: Vec<RawControl>,
    ) -> Result<SearchStream<'static, String, Vec<String>>> {
        let fut = self
            .ldap
            .with_controls(controls)
            .with_timeout(self.timeout)
            .streaming_search(base, scope, filter, attrs);
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| Error::Ldap("search timed out".into()))?
            .map_err(|e| ldap_err("search failed", e))
    }

    pub async fn unbind(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ldap.unbind()).await;
    }
}

pub struct PagedSearch<'c> {
    client: &'c mut Client,
    base: String,
    filter: String,
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
        if self.done {
            return Ok(None);
        }
        let control = PagedResults {
            size: self.page_size,
            cookie: std::mem::take(&mut self.cookie),
        }
        .to_control();
        let timeout = self.client.timeout;
        let mut controls: Vec<RawControl> = vec![control.into()];
        controls.extend(self.extra.iter().cloned().map(RawControl::from));
        let mut stream = self
            .client
            .search(&self.base, &self.filter, self.attrs.clone(), controls)
            .await?;
        let page = read_entries(&mut stream, timeout, self.page_size as usize).await?;
        let res = stream.finish().await;
        if res.rc != 0 {
            return Err(Error::Ldap(format!(
                "search of `{}` failed (result code {}): {}",
                self.base, res.rc, res.text
            )));
        }
        let paged = res
            .ctrls
            .iter()
            .find(|c| c.1.ctype == PAGED_RESULTS_OID)
            .ok_or_else(|| Error::Ldap("the server ignored the paged results control".into()))?;
        let paged = PagedResults::from_control(&paged.1.ctype, paged.1.val.as_deref())
            .map_err(|e| ldap_err("bad paged results response", e))?;
        self.done = paged.is_last_page();
        self.cookie = paged.cookie;
        Ok(Some(page))
    }
}

/// The entries of a search to its end (references and intermediate messages skipped), each
/// wait bounded by `timeout`.
async fn read_entries(
    stream: &mut SearchStream<'static, String, Vec<String>>,
    timeout: Duration,
    expected: usize,
) -> Result<Vec<Result<Entry, String>>> {
    let mut entries = Vec::with_capacity(expected);
    loop {
        let item = tokio::time::timeout(timeout, stream.next())
            .await
            .map_err(|_| Error::Ldap("timed out waiting for search results".into()))?
            .map_err(|e| ldap_err("search failed", e))?;
        let Some(item) = item else { break };
        if item.is_ref() || item.is_intermediate() {
            continue;
        }
        entries.push(entry_from_tag(item.0));
    }
    Ok(entries)
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

pub struct RefreshSearch {
    stream: SearchStream<'static, String, Vec<String>>,
    timeout: Duration,
}

impl RefreshSearch {
    pub async fn next(&mut self) -> Result<SyncMessage> {
        loop {
            let item = tokio::time::timeout(self.timeout, self.stream.next())
                .await
                .map_err(|_| Error::Ldap("timed out waiting for sync results".into()))?
                .map_err(|e| ldap_err("sync search failed", e))?;
            let Some(item) = item else {
                return self.done().await;
            };
            if item.is_ref() {
                continue;
            }
            if item.is_intermediate() {
                let (name, value) = intermediate_parts(&item.0);
                let info = SyncInfo::from_intermediate(name.as_deref(), value.as_deref())
                    .map_err(|e| ldap_err("bad Sync Info message", e))?;
                return Ok(SyncMessage::Info(info));
            }
            let state = item
                .1
                .iter()
                .find(|c| c.1.ctype == SYNC_STATE_OID)
                .ok_or_else(|| Error::Ldap("an entry without Sync State control".into()))?;
            let state = SyncState::from_control(&state.1.ctype, state.1.val.as_deref())
                .map_err(|e| ldap_err("bad Sync State control", e))?;
            return Ok(SyncMessage::Entry(state, entry_from_tag(item.0)));
        }
    }

    async fn done(&mut self) -> Result<SyncMessage> {
        let res = self.stream.finish().await;
        if res.rc == super::controls::content_sync::E_SYNC_REFRESH_REQUIRED {
            return Ok(SyncMessage::RefreshRequired);
        }
        if res.rc != 0 {
            return Err(Error::Ldap(format!(
                "sync search failed (result code {}): {}",
                res.rc, res.text
            )));
        }
        match res.ctrls.iter().find(|c| c.1.ctype == SYNC_DONE_OID) {
            Some(c) => {
                let done = SyncDone::from_control(&c.1.ctype, c.1.val.as_deref())
                    .map_err(|e| ldap_err("bad Sync Done control", e))?;
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
}

/// `IntermediateResponse ::= [APPLICATION 25] SEQUENCE { responseName [0] OPTIONAL,
/// responseValue [1] OPTIONAL }`.
fn intermediate_parts(tag: &StructureTag) -> (Option<String>, Option<Vec<u8>>) {
    let mut name = None;
    let mut value = None;
    if let PL::C(parts) = &tag.payload {
        for p in parts {
            if let PL::P(bytes) = &p.payload {
                match p.id {
                    0 => name = String::from_utf8(bytes.clone()).ok(),
                    1 => value = Some(bytes.clone()),
                    _ => {}
                }
            }
        }
    }
    (name, value)
}

/// Decodes a SearchResultEntry (`[APPLICATION 4] SEQUENCE { objectName, attributes }`)
/// without the panics of `ldap3::SearchEntry::construct`. `Err` names the defect and, when it
/// could be read, the DN.
pub fn entry_from_tag(tag: StructureTag) -> Result<Entry, String> {
    let PL::C(parts) = tag.payload else {
        return Err("malformed entry: not constructed".into());
    };
    let mut parts = parts.into_iter();
    let dn = match parts.next().map(|t| t.payload) {
        Some(PL::P(bytes)) => {
            String::from_utf8(bytes).map_err(|_| "malformed entry: DN is not UTF-8".to_owned())?
        }
        _ => return Err("malformed entry: no DN".into()),
    };
    let mut entry = Entry::new(dn.clone());
    let Some(PL::C(attrs)) = parts.next().map(|t| t.payload) else {
        return Err(format!("malformed entry `{dn}`: no attribute list"));
    };
    for attr in attrs {
        let PL::C(pair) = attr.payload else {
            return Err(format!("malformed entry `{dn}`: bad attribute"));
        };
        let mut pair = pair.into_iter();
        let (Some(PL::P(name)), Some(PL::C(values))) = (
            pair.next().map(|t| t.payload),
            pair.next().map(|t| t.payload),
        ) else {
            return Err(format!("malformed entry `{dn}`: bad attribute"));
        };
        let name = String::from_utf8(name)
            .map_err(|_| format!("malformed entry `{dn}`: attribute name is not UTF-8"))?
            .to_ascii_lowercase();
        let slot = entry.attrs.entry(name).or_default();
        for v in values {
            match v.payload {
                PL::P(bytes) => slot.push(bytes),
                PL::C(_) => return Err(format!("malformed entry `{dn}`: bad value")),
            }
        }
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::asn1::TagClass;

    fn p(id: u64, bytes: &[u8]) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id,
            payload: PL::P(bytes.to_vec()),
        }
    }

    fn c(id: u64, parts: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id,
            payload: PL::C(parts),
        }
    }

    #[test]
    fn decodes_entries_and_rejects_malformed_ones() {
        let good = c(
            4,
            vec![
                p(4, b"uid=ada,dc=x"),
                c(
                    16,
                    vec![c(16, vec![p(4, b"Mail"), c(17, vec![p(4, b"ada@x.io")])])],
                ),
            ],
        );
        let e = entry_from_tag(good).unwrap();
        assert_eq!(e.dn, "uid=ada,dc=x");
        assert_eq!(e.text("mail").unwrap(), Some("ada@x.io"));
        for bad in [
            p(4, b"x"),
            c(4, vec![]),
            c(4, vec![p(4, &[0xff])]),
            c(4, vec![p(4, b"dn")]),
            c(4, vec![p(4, b"dn"), c(16, vec![p(4, b"x")])]),
            c(4, vec![p(4, b"dn"), c(16, vec![c(16, vec![p(4, b"a")])])]),
            c(
                4,
                vec![
                    p(4, b"dn"),
                    c(16, vec![c(16, vec![p(4, b"a"), c(17, vec![c(4, vec![])])])]),
                ],
            ),
        ] {
            assert!(entry_from_tag(bad).is_err());
        }
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
    fn converts_controls() {
        let raw: RawControl = Control::new("1.2.3", true, Some(vec![1])).into();
        assert_eq!(
            (raw.ctype.as_str(), raw.crit, raw.val),
            ("1.2.3", true, Some(vec![1]))
        );
    }
}
