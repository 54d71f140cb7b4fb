//! A private Samba Active Directory domain controller per test: Debian's `samba` in the AD DC
//! role, serving LDAP only, on a loopback address of its own. Killed when dropped.
//!
//! Samba's LDAP port is fixed (389, and 3268 for the global catalog), so each server binds its
//! own address in 127.0.0.0/8 instead of its own port: an address is taken under a lock file in
//! the system temp dir (so concurrent test processes never pick the same one) and only when
//! nothing else listens on it.
//!
//! Provisioning a domain takes about four seconds, so it happens once: the first test builds a
//! template (domain `TAP.TEST`, `--use-rfc2307`, plus an `employeeHireDate` attribute added to the
//! schema) under `CARGO_TARGET_TMPDIR`, keyed by the Samba version, and every server starts from a
//! copy of it (33 MB, tens of milliseconds). Every copy is the same domain: same SIDs, GUIDs of
//! the built-in objects and DC `invocationId`.
//!
//! Without Samba's AD DC pieces installed a test skips with a notice; with `CI=true` it fails.
//! Binding port 389 needs root.
//!
//! Include with `#[path = "common/samba.rs"] mod samba;`.

#![allow(dead_code)]

use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

pub const REALM: &str = "TAP.TEST";
pub const DOMAIN: &str = "TAP";
/// The domain naming context.
pub const BASE: &str = "DC=tap,DC=test";
/// The UPN suffix of the domain.
pub const UPN_SUFFIX: &str = "tap.test";
pub const ADMIN_DN: &str = "CN=Administrator,CN=Users,DC=tap,DC=test";
/// Meets the domain's password complexity rules.
pub const ADMIN_PW: &str = "Tapbridge-Adm1n!";
pub const SCHEMA_DN: &str = "CN=Schema,CN=Configuration,DC=tap,DC=test";

/// Bump when the template recipe changes, so a stale template is rebuilt.
const RECIPE: u32 = 2;
/// Debian's location of the provisioning data (package samba-ad-provision).
const SETUP_DIR: &str = "/usr/share/samba/setup";
const PACKAGES: &str = "samba samba-ad-provision samba-dsdb-modules samba-vfs-modules ldap-utils";

/// userAccountControl flags.
pub const UAC_ACCOUNTDISABLE: u32 = 0x2;
pub const UAC_NORMAL_ACCOUNT: u32 = 0x200;

pub struct Samba {
    /// The server's files: configuration (`etc/smb.conf`), databases, `samba.log`.
    pub dir: PathBuf,
    /// The loopback address the server listens on (port 389).
    pub ip: Ipv4Addr,
    /// `ldap://<ip>:389`.
    pub url: String,
    child: Option<Child>,
    /// Kept open: `samba -i` exits on end of input, so a test process that dies takes its
    /// server with it.
    stdin: Option<ChildStdin>,
    _address: Address,
    _temp: Option<tempfile::TempDir>,
}

/// `Some(samba)`, or `None` after printing why the test is skipped. Panics under `CI=true`.
pub fn start() -> Option<Samba> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if let Some(why) = missing() {
        assert!(!ci, "CI=true and {why}: install {PACKAGES}");
        eprintln!("SKIPPED: {why} (apt-get install {PACKAGES})");
        return None;
    }
    let template = template();
    let temp = tempfile::tempdir().expect("temp dir");
    copy_tree(template, temp.path());
    let mut s = Samba::new(temp.path().to_owned(), Some(temp));
    s.launch(&[]);
    Some(s)
}

/// Why this machine cannot run a Samba DC, if it cannot.
fn missing() -> Option<String> {
    if which("samba").is_none() {
        Some("samba (the AD DC daemon) is not installed".into())
    } else if which("samba-tool").is_none() {
        Some("samba-tool is not installed".into())
    } else if !Path::new(SETUP_DIR).join("ad-schema").is_dir() {
        Some(format!(
            "Samba's provisioning data ({SETUP_DIR}, package samba-ad-provision) is missing"
        ))
    } else if which("ldapadd").is_none() || which("ldapsearch").is_none() {
        Some("ldap-utils (ldapadd, ldapmodify, ldapsearch) are not installed".into())
    } else if !is_root() {
        Some("a Samba DC listens on port 389, which needs root".into())
    } else {
        None
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn which(bin: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(bin)).find(|p| p.is_file())
}

fn samba_bin() -> PathBuf {
    which("samba").expect("samba")
}

// ---------------------------------------------------------------------------------------------
// Addresses

/// A loopback address held for one server: a lock file (against other test processes using
/// this fixture) and a check that nothing else listens on its LDAP ports.
struct Address {
    ip: Ipv4Addr,
    _lock: File,
}

impl Address {
    /// The first free address from 127.77.0.2 on: lock files are reused, so their number stays
    /// at the most servers ever run at once.
    fn take() -> Address {
        let locks = std::env::temp_dir().join("tapbridge-samba-addresses");
        std::fs::create_dir_all(&locks).expect("lock dir");
        for n in 0..250 * 250 {
            let ip = Ipv4Addr::new(127, 77, (n / 250) as u8, (n % 250 + 2) as u8);
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(locks.join(format!("{ip}.lock")))
                .expect("lock file");
            // SAFETY: flock(2) on a descriptor we own. Each open(2) is its own lock holder, so
            // this also keeps threads of one process apart.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                continue;
            }
            let free = [389, 636, 3268, 3269]
                .iter()
                .all(|&port| TcpListener::bind((ip, port)).is_ok());
            if free {
                return Address { ip, _lock: file };
            }
        }
        panic!("no free loopback address for a Samba DC");
    }
}

// ---------------------------------------------------------------------------------------------
// The template

/// The provisioned domain every server copies: built once per Samba version and recipe, shared
/// by test processes through a lock file.
fn template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(root).expect("target tmp dir");
        let version = Command::new(samba_bin())
            .arg("-V")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let tag: String = version
            .trim_start_matches("Version ")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let dir = root.join(format!("samba-ad-template-{tag}-r{RECIPE}"));
        let lock = File::create(root.join("samba-ad-template.lock")).expect("template lock");
        // SAFETY: flock(2) on a descriptor we own; released when `lock` is closed.
        assert_eq!(
            unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) },
            0,
            "lock the Samba template"
        );
        if !dir.join("READY").is_file() {
            let started = Instant::now();
            // Older templates (another Samba version or recipe) and unfinished builds.
            for entry in std::fs::read_dir(root).expect("target tmp dir").flatten() {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("samba-ad-template-")
                    && entry.path().is_dir()
                {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
            let building = root.join(format!("samba-ad-template-building-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&building);
            build_template(&building);
            std::fs::write(
                building.join("READY"),
                format!("{version}\nrecipe {RECIPE}\n"),
            )
            .expect("READY");
            std::fs::rename(&building, &dir).expect("publish the Samba template");
            eprintln!(
                "samba: provisioned the template domain in {:.1}s ({})",
                started.elapsed().as_secs_f64(),
                dir.display()
            );
        }
        drop(lock);
        dir
    })
}

fn build_template(dir: &Path) {
    let out = Command::new(which("samba-tool").expect("samba-tool"))
        .args([
            "domain",
            "provision",
            &format!("--targetdir={}", dir.display()),
            &format!("--realm={REALM}"),
            &format!("--domain={DOMAIN}"),
            "--server-role=dc",
            "--dns-backend=NONE",
            "--use-rfc2307",
            // Not the machine's host name: it becomes the NetBIOS name (at most 15 characters).
            "--host-name=dc1",
            &format!("--adminpass={ADMIN_PW}"),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run samba-tool");
    assert!(
        out.status.success(),
        "samba-tool domain provision failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Extend the schema once, on a server running from the template itself.
    let mut s = Samba::new(dir.to_owned(), None);
    s.launch(&["--option=dsdb:schema update allowed = true"]);
    s.modify(&schema_extension());
    s.stop();
    // Run-time state of that server: sockets, locks, logs, its configuration.
    for entry in std::fs::read_dir(dir).expect("template dir") {
        let path = entry.expect("template entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let runtime = [
            "msg.sock",
            "msg.lock",
            "ncalrpc",
            "winbindd",
            "ntp_signd",
            "etc",
        ]
        .contains(&name.as_ref())
            || name.ends_with(".pid")
            || name.starts_with("log.")
            || name == "samba.log";
        if runtime {
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
}

/// `employeeHireDate` (GeneralizedTime, single-valued) on user objects, which AD's base schema
/// lacks. The OID is in Microsoft's arc for ad-hoc schema extensions.
fn schema_extension() -> String {
    format!(
        "dn: CN=employeeHireDate,{SCHEMA_DN}\nchangetype: add\nobjectClass: attributeSchema\n\
         attributeID: 1.2.840.113556.1.8000.2554.41.7.1\nlDAPDisplayName: employeeHireDate\n\
         adminDisplayName: employeeHireDate\nattributeSyntax: 2.5.5.11\noMSyntax: 24\n\
         isSingleValued: TRUE\n\n\
         dn:\nchangetype: modify\nadd: schemaUpdateNow\nschemaUpdateNow: 1\n-\n\n\
         dn: CN=User,{SCHEMA_DN}\nchangetype: modify\nadd: mayContain\nmayContain: employeeHireDate\n-\n\n\
         dn:\nchangetype: modify\nadd: schemaUpdateNow\nschemaUpdateNow: 1\n-\n"
    )
}

/// Copies directories (with their modes: Samba insists on 0700 for some) and regular files;
/// leaves out the sysvol share (ACLs in xattrs, unused by an LDAP-only server) and anything
/// else (sockets, pipes).
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read template") {
        let entry = entry.expect("template entry");
        let kind = entry.file_type().expect("file type");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if kind.is_dir() {
            if src.ends_with("state/sysvol") {
                continue;
            }
            std::fs::create_dir_all(&dst).expect("create dir");
            let mode = entry.metadata().expect("metadata").permissions();
            std::fs::set_permissions(&dst, mode).expect("dir mode");
            copy_tree(&src, &dst);
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        }
    }
}

/// smb.conf for an LDAP-only DC on `ip`, with every path inside `dir`.
fn write_conf(dir: &Path, ip: Ipv4Addr) {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("etc")).expect("etc dir");
    std::fs::write(
        dir.join("etc/smb.conf"),
        format!(
            "[global]\n\
             \tnetbios name = DC1\n\
             \trealm = {REALM}\n\
             \tworkgroup = {DOMAIN}\n\
             \tserver role = active directory domain controller\n\
             \tserver services = ldap\n\
             \tinterfaces = {ip}/8\n\
             \tbind interfaces only = yes\n\
             \tldap server require strong auth = no\n\
             \ttls enabled = no\n\
             \tidmap_ldb:use rfc2307 = yes\n\
             \tprivate dir = {d}/private\n\
             \tstate directory = {d}/state\n\
             \tcache directory = {d}/cache\n\
             \tlock directory = {d}\n\
             \tpid directory = {d}\n\
             \tbinddns dir = {d}/bind-dns\n\
             \tncalrpc dir = {d}/ncalrpc\n\
             \twinbindd socket directory = {d}/winbindd\n\
             \tntp signd socket directory = {d}/ntp_signd\n\
             \tlogging = file\n\
             \tlog file = {d}/log.%m\n"
        ),
    )
    .expect("write smb.conf");
}

// ---------------------------------------------------------------------------------------------
// The server

impl Samba {
    /// A server (not started) for the domain in `dir`, on an address of its own.
    fn new(dir: PathBuf, temp: Option<tempfile::TempDir>) -> Samba {
        let address = Address::take();
        write_conf(&dir, address.ip);
        Samba {
            url: format!("ldap://{}:389", address.ip),
            ip: address.ip,
            dir,
            child: None,
            stdin: None,
            _address: address,
            _temp: temp,
        }
    }

    fn launch(&mut self, options: &[&str]) {
        let dir = self.dir.clone();
        let log = File::create(dir.join("samba.log")).expect("log");
        let mut child = Command::new(samba_bin())
            .args(["-i", "-M", "single", "--debug-stdout", "-s"])
            .arg(dir.join("etc/smb.conf"))
            .args(options)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn samba");
        self.stdin = child.stdin.take();
        self.child = Some(child);
        let log = || std::fs::read_to_string(dir.join("samba.log")).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut listening = false;
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("samba exited ({status}):\n{}", log());
            }
            if !listening {
                listening =
                    TcpStream::connect_timeout(&(self.ip, 389).into(), Duration::from_millis(200))
                        .is_ok();
            }
            if listening && self.bind_works() {
                return;
            }
            std::thread::sleep(Duration::from_millis(if listening { 50 } else { 10 }));
        }
        panic!("samba did not start on {}:\n{}", self.url, log());
    }

    fn bind_works(&self) -> bool {
        Command::new("ldapsearch")
            .args(["-x", "-H", &self.url, "-D", ADMIN_DN, "-w", ADMIN_PW])
            .args(["-b", "", "-s", "base", "-LLL", "dsServiceName"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Ends the server: end of input makes `samba -i` stop cleanly; SIGKILL if it lingers.
    fn stop(&mut self) {
        drop(self.stdin.take());
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        drop(self.stdin.take());
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same address and database.
    pub fn restart(&mut self) {
        self.kill();
        self.launch(&[]);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("samba.log")).unwrap_or_default()
    }

    // -----------------------------------------------------------------------------------------
    // LDAP tools, bound as Administrator (but `search_as`)

    fn tool(&self, tool: &str, args: &[&str], input: &str) -> String {
        self.tool_as(ADMIN_DN, ADMIN_PW, tool, args, input)
            .unwrap_or_else(|e| panic!("{tool} {args:?} failed: {e}\n{input}"))
    }

    /// Runs an LDAP tool bound as `bind_dn`; its standard output, or its standard error when
    /// it fails.
    fn tool_as(
        &self,
        bind_dn: &str,
        password: &str,
        tool: &str,
        args: &[&str],
        input: &str,
    ) -> Result<String, String> {
        let mut child = Command::new(tool)
            .args(["-x", "-H", &self.url, "-D", bind_dn, "-w", password])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ldap tool");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write LDIF");
        let out = child.wait_with_output().expect("wait");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            ))
        }
    }

    /// Adds entries (LDIF).
    pub fn add(&self, ldif: &str) {
        self.tool("ldapadd", &[], ldif);
    }

    /// Applies an LDIF change list (`changetype: modify / modrdn / delete / add`).
    pub fn modify(&self, ldif: &str) {
        self.tool("ldapmodify", &[], ldif);
    }

    /// Deletes an entry (it becomes a tombstone under `CN=Deleted Objects`).
    pub fn delete(&self, dn: &str) {
        self.tool("ldapdelete", &[dn], "");
    }

    /// Searches; `extra` are further ldapsearch arguments (`-E` controls, `-s base`).
    pub fn search(&self, base: &str, filter: &str, attrs: &[&str], extra: &[&str]) -> Vec<Entry> {
        let mut args = vec!["-LLL", "-o", "ldif_wrap=no", "-b", base];
        args.extend_from_slice(extra);
        args.push(filter);
        args.extend_from_slice(attrs);
        parse_ldif(&self.tool("ldapsearch", &args, ""))
    }

    /// Searches bound as another account: the entries, or the tool's error output (which
    /// names the LDAP result code) when the server refuses.
    pub fn search_as(
        &self,
        bind_dn: &str,
        password: &str,
        base: &str,
        filter: &str,
        attrs: &[&str],
        extra: &[&str],
    ) -> Result<Vec<Entry>, String> {
        let mut args = vec!["-LLL", "-o", "ldif_wrap=no", "-b", base];
        args.extend_from_slice(extra);
        args.push(filter);
        args.extend_from_slice(attrs);
        self.tool_as(bind_dn, password, "ldapsearch", &args, "")
            .map(|out| parse_ldif(&out))
    }

    /// The one entry at `dn`.
    pub fn read(&self, dn: &str, attrs: &[&str]) -> Entry {
        let mut found = self.search(dn, "(objectClass=*)", attrs, &["-s", "base"]);
        assert_eq!(found.len(), 1, "no entry {dn}");
        found.remove(0)
    }

    // -----------------------------------------------------------------------------------------
    // Directory objects

    /// Creates an organizational unit under `parent`; returns its DN.
    pub fn add_ou(&self, name: &str, parent: &str) -> String {
        let dn = format!("OU={},{parent}", escape_rdn(name));
        self.add(&format!(
            "{}objectClass: organizationalUnit\n{}\n",
            ldif_line("dn", &dn),
            ldif_line("ou", name)
        ));
        dn
    }

    /// Creates a user under `parent`; returns its DN.
    pub fn add_user(&self, parent: &str, u: &User) -> String {
        let dn = format!("CN={},{parent}", escape_rdn(&u.cn));
        self.add(&u.ldif(&dn));
        dn
    }

    /// Creates a security group (global scope) under `parent` with these member DNs.
    pub fn add_group(&self, parent: &str, name: &str, members: &[&str]) -> String {
        let dn = format!("CN={},{parent}", escape_rdn(name));
        let mut ldif = format!(
            "{}objectClass: group\n{}",
            ldif_line("dn", &dn),
            ldif_line("sAMAccountName", name)
        );
        for m in members {
            ldif.push_str(&ldif_line("member", m));
        }
        ldif.push('\n');
        self.add(&ldif);
        dn
    }

    pub fn add_members(&self, group: &str, members: &[&str]) {
        self.change_members(group, "add", members);
    }

    pub fn remove_members(&self, group: &str, members: &[&str]) {
        self.change_members(group, "delete", members);
    }

    fn change_members(&self, group: &str, op: &str, members: &[&str]) {
        let mut ldif = format!(
            "{}changetype: modify\n{op}: member\n",
            ldif_line("dn", group)
        );
        for m in members {
            ldif.push_str(&ldif_line("member", m));
        }
        ldif.push_str("-\n");
        self.modify(&ldif);
    }

    /// Replaces an attribute's values; no values removes the attribute.
    pub fn set(&self, dn: &str, attr: &str, values: &[&str]) {
        let mut ldif = format!("{}changetype: modify\n", ldif_line("dn", dn));
        if values.is_empty() {
            ldif.push_str(&format!("delete: {attr}\n-\n"));
        } else {
            ldif.push_str(&format!("replace: {attr}\n"));
            for v in values {
                ldif.push_str(&ldif_line(attr, v));
            }
            ldif.push_str("-\n");
        }
        self.modify(&ldif);
    }

    pub fn user_account_control(&self, dn: &str) -> u32 {
        self.read(dn, &["userAccountControl"])
            .text("userAccountControl")
            .expect("userAccountControl")
            .parse()
            .expect("numeric userAccountControl")
    }

    /// userAccountControl |= ACCOUNTDISABLE.
    pub fn disable(&self, dn: &str) {
        let uac = self.user_account_control(dn) | UAC_ACCOUNTDISABLE;
        self.set(dn, "userAccountControl", &[&uac.to_string()]);
    }

    /// userAccountControl &= !ACCOUNTDISABLE.
    pub fn enable(&self, dn: &str) {
        let uac = self.user_account_control(dn) & !UAC_ACCOUNTDISABLE;
        self.set(dn, "userAccountControl", &[&uac.to_string()]);
    }

    /// Sets a password (`unicodePwd`; this server takes it over plain LDAP).
    pub fn set_password(&self, dn: &str, password: &str) {
        self.modify(&format!(
            "{}changetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n-\n",
            ldif_line("dn", dn),
            unicode_pwd(password)
        ));
    }

    /// Renames (`new_rdn`, e.g. `CN=Ada King`) and optionally moves under `new_parent`;
    /// returns the new DN. The objectGUID stays.
    pub fn rename(&self, dn: &str, new_rdn: &str, new_parent: Option<&str>) -> String {
        let mut ldif = format!(
            "{}changetype: modrdn\n{}deleteoldrdn: 1\n",
            ldif_line("dn", dn),
            ldif_line("newrdn", new_rdn)
        );
        if let Some(p) = new_parent {
            ldif.push_str(&ldif_line("newsuperior", p));
        }
        self.modify(&ldif);
        let parent = new_parent.map_or_else(
            || dn.split_once(',').map_or("", |(_, p)| p).to_owned(),
            str::to_owned,
        );
        format!("{new_rdn},{parent}")
    }

    /// The objectGUID value (16 bytes, Windows GUID layout: first three fields little-endian).
    pub fn object_guid(&self, dn: &str) -> [u8; 16] {
        let e = self.read(dn, &["objectGUID"]);
        let raw = e.raw("objectGUID").expect("objectGUID");
        raw.try_into().expect("16-byte objectGUID")
    }

    /// The objectGUID in its text form, as the server writes it: the extended DN control
    /// (1.2.840.113556.1.4.529, flag 1) returns `<GUID=…>;<SID=…>;CN=…`.
    pub fn guid(&self, dn: &str) -> String {
        let found = self.search(
            dn,
            "(objectClass=*)",
            &["1.1"],
            &["-s", "base", "-E", "!extendedDn=1"],
        );
        let extended = &found.first().expect("entry").dn;
        extended
            .strip_prefix("<GUID=")
            .and_then(|rest| rest.split_once('>'))
            .map(|(g, _)| g.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("no GUID in extended DN {extended}"))
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------------
// Users

/// A user to create. `User::new("ada")` is `CN=ada`, sAMAccountName `ada`, UPN `ada@tap.test`,
/// enabled (userAccountControl 512), no password.
#[derive(Debug, Clone, Default)]
pub struct User {
    pub cn: String,
    pub sam: String,
    pub upn: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub display_name: Option<String>,
    pub mail: Option<String>,
    /// DN of the manager.
    pub manager: Option<String>,
    /// GeneralizedTime, e.g. `20240102000000.0Z` (the template's schema extension).
    pub hire_date: Option<String>,
    pub user_account_control: u32,
    pub password: Option<String>,
    /// Further attributes, e.g. `("proxyAddresses", "smtp:a@b")`.
    pub extra: Vec<(String, String)>,
}

impl User {
    pub fn new(sam: &str) -> User {
        User {
            cn: sam.to_owned(),
            sam: sam.to_owned(),
            upn: Some(format!("{sam}@{UPN_SUFFIX}")),
            user_account_control: UAC_NORMAL_ACCOUNT,
            ..Default::default()
        }
    }

    pub fn cn(mut self, v: &str) -> Self {
        self.cn = v.to_owned();
        self
    }

    pub fn upn(mut self, v: Option<&str>) -> Self {
        self.upn = v.map(str::to_owned);
        self
    }

    /// givenName, sn and displayName at once.
    pub fn name(mut self, given: &str, surname: &str) -> Self {
        self.given_name = Some(given.to_owned());
        self.surname = Some(surname.to_owned());
        self.display_name = Some(format!("{given} {surname}"));
        self
    }

    pub fn display_name(mut self, v: &str) -> Self {
        self.display_name = Some(v.to_owned());
        self
    }

    pub fn mail(mut self, v: &str) -> Self {
        self.mail = Some(v.to_owned());
        self
    }

    pub fn manager(mut self, dn: &str) -> Self {
        self.manager = Some(dn.to_owned());
        self
    }

    pub fn hire_date(mut self, generalized_time: &str) -> Self {
        self.hire_date = Some(generalized_time.to_owned());
        self
    }

    /// ACCOUNTDISABLE | NORMAL_ACCOUNT (0x202).
    pub fn disabled(mut self) -> Self {
        self.user_account_control |= UAC_ACCOUNTDISABLE;
        self
    }

    pub fn password(mut self, v: &str) -> Self {
        self.password = Some(v.to_owned());
        self
    }

    pub fn with(mut self, attr: &str, value: &str) -> Self {
        self.extra.push((attr.to_owned(), value.to_owned()));
        self
    }

    pub fn ldif(&self, dn: &str) -> String {
        let mut s = ldif_line("dn", dn);
        s.push_str("objectClass: user\n");
        s.push_str(&ldif_line("sAMAccountName", &self.sam));
        let optional = [
            ("userPrincipalName", &self.upn),
            ("givenName", &self.given_name),
            ("sn", &self.surname),
            ("displayName", &self.display_name),
            ("mail", &self.mail),
            ("manager", &self.manager),
            ("employeeHireDate", &self.hire_date),
        ];
        for (attr, v) in optional {
            if let Some(v) = v {
                s.push_str(&ldif_line(attr, v));
            }
        }
        for (attr, v) in &self.extra {
            s.push_str(&ldif_line(attr, v));
        }
        if let Some(p) = &self.password {
            s.push_str(&format!("unicodePwd:: {}\n", unicode_pwd(p)));
        }
        s.push_str(&format!(
            "userAccountControl: {}\n\n",
            self.user_account_control
        ));
        s
    }
}

// ---------------------------------------------------------------------------------------------
// LDIF

/// `attr: value`, or `attr:: base64` when the value is not a safe LDIF string.
pub fn ldif_line(attr: &str, value: &str) -> String {
    let safe = value
        .bytes()
        .all(|b| b.is_ascii() && b != b'\n' && b != b'\r' && b != 0)
        && !value.starts_with([' ', ':', '<'])
        && !value.ends_with(' ');
    if safe {
        format!("{attr}: {value}\n")
    } else {
        format!("{attr}:: {}\n", B64.encode(value))
    }
}

/// Escapes an RDN value (RFC 4514).
pub fn escape_rdn(value: &str) -> String {
    let mut s = String::new();
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                s.push('\\');
                s.push(c);
            }
            '#' | ' ' if i == 0 => {
                s.push('\\');
                s.push(c);
            }
            _ => s.push(c),
        }
    }
    if s.ends_with(' ') {
        s.pop();
        s.push_str("\\ ");
    }
    s
}

/// The `unicodePwd` value: the quoted password in UTF-16LE, base64.
fn unicode_pwd(password: &str) -> String {
    let bytes: Vec<u8> = format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    B64.encode(bytes)
}

/// An entry read back with ldapsearch.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub dn: String,
    pub attrs: Vec<(String, Vec<u8>)>,
}

impl Entry {
    pub fn raw(&self, attr: &str) -> Option<&[u8]> {
        self.attrs
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(attr))
            .map(|(_, v)| v.as_slice())
    }

    pub fn text(&self, attr: &str) -> Option<String> {
        self.raw(attr)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn texts(&self, attr: &str) -> Vec<String> {
        self.attrs
            .iter()
            .filter(|(a, _)| a.eq_ignore_ascii_case(attr))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }
}

/// Unwrapped LDIF (`-o ldif_wrap=no`) into entries; comments and referrals are skipped.
pub fn parse_ldif(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    for line in text.lines() {
        if line.is_empty() {
            entries.extend(current.take());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some((attr, rest)) = line.split_once(':') else {
            continue;
        };
        let value = match rest.strip_prefix(':') {
            Some(b64) => B64.decode(b64.trim()).expect("base64 LDIF value"),
            None => rest.strip_prefix(' ').unwrap_or(rest).as_bytes().to_vec(),
        };
        if attr == "dn" {
            entries.extend(current.take());
            current = Some(Entry {
                dn: String::from_utf8_lossy(&value).into_owned(),
                attrs: Vec::new(),
            });
        } else if let Some(e) = current.as_mut() {
            e.attrs.push((attr.to_owned(), value));
        }
    }
    entries.extend(current);
    entries
}

/// The text form of an objectGUID value: the first three fields are stored little-endian.
pub fn guid_text(raw: &[u8; 16]) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let rev = |r: std::ops::Range<usize>| {
        let mut v = raw[r].to_vec();
        v.reverse();
        hex(&v)
    };
    format!(
        "{}-{}-{}-{}-{}",
        rev(0..4),
        rev(4..6),
        rev(6..8),
        hex(&raw[8..10]),
        hex(&raw[10..16])
    )
}
