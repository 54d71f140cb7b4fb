//! A private OpenLDAP server per test: its own directory, `slapd.conf` (mdb with the syncprov,
//! memberof and refint overlays), a free loopback port, optionally StartTLS with a CA made for
//! the test. Killed when dropped.
//!
//! Without slapd installed a test skips with a notice; with `CI=true` it fails instead.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BASE: &str = "dc=example,dc=com";
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=com";
pub const ADMIN_PW: &str = "admin-secret";

const SLAPD: &str = "/usr/sbin/slapd";
const MODULES: &[&str] = &["/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap"];
const SCHEMAS: &[&str] = &["/etc/ldap/schema", "/etc/openldap/schema"];

pub struct Slapd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub url: String,
    /// The CA certificate (PEM) when started with TLS.
    pub ca_file: Option<PathBuf>,
    child: Option<Child>,
    conf: PathBuf,
}

/// `Some(slapd)`, or `None` after printing why the test is skipped. Panics under `CI=true`.
pub fn start() -> Option<Slapd> {
    start_with(false)
}

pub fn start_with(tls: bool) -> Option<Slapd> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let module_path = MODULES.iter().find(|p| {
        Path::new(p).join("back_mdb.so").exists() || Path::new(p).join("syncprov.so").exists()
    });
    let schema = SCHEMAS
        .iter()
        .find(|p| Path::new(p).join("core.schema").exists());
    let missing = if !Path::new(SLAPD).exists() {
        Some("slapd is not installed")
    } else if schema.is_none() {
        Some("the OpenLDAP schema files are missing")
    } else if which("ldapadd").is_none() {
        Some("ldap-utils (ldapadd, ldapmodify) are not installed")
    } else {
        None
    };
    if let Some(why) = missing {
        assert!(!ci, "CI=true and {why}: install slapd and ldap-utils");
        eprintln!("SKIPPED: {why} (apt-get install slapd ldap-utils)");
        return None;
    }
    let schema = schema.copied().unwrap_or("/etc/ldap/schema");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("db")).expect("db dir");
    let ca_file = tls.then(|| make_certificates(dir.path()));
    let mut conf = String::new();
    for s in ["core", "cosine", "nis", "inetorgperson"] {
        conf.push_str(&format!("include {schema}/{s}.schema\n"));
    }
    if let Some(m) = module_path {
        conf.push_str(&format!("modulepath {m}\n"));
        for module in ["back_mdb", "syncprov", "memberof", "refint"] {
            if Path::new(m).join(format!("{module}.so")).exists()
                || Path::new(m).join(format!("{module}.la")).exists()
            {
                conf.push_str(&format!("moduleload {module}\n"));
            }
        }
    }
    let d = dir.path().display();
    conf.push_str(&format!("pidfile {d}/slapd.pid\nargsfile {d}/slapd.args\n"));
    if tls {
        conf.push_str(&format!(
            "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\nTLSCertificateKeyFile {d}/server.key\n"
        ));
    }
    conf.push_str(&format!(
        "database mdb\nmaxsize 4294967296\nsuffix \"{BASE}\"\nrootdn \"{ADMIN_DN}\"\nrootpw {ADMIN_PW}\n\
         directory {d}/db\nindex objectClass eq\nindex entryUUID,entryCSN eq\nindex uid,mail eq\n\
         limits dn.exact=\"{ADMIN_DN}\" size=unlimited time=unlimited\n\
         overlay syncprov\nsyncprov-checkpoint 100 10\n\
         overlay memberof\n\
         overlay refint\nrefint_attributes member uniqueMember manager\n"
    ));
    let conf_path = dir.path().join("slapd.conf");
    std::fs::write(&conf_path, conf).expect("write slapd.conf");
    let port = free_port();
    let mut s = Slapd {
        url: format!("ldap://127.0.0.1:{port}"),
        dir,
        port,
        ca_file,
        child: None,
        conf: conf_path,
    };
    s.launch();
    s.add(&format!(
        "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
         dn: ou=People,{BASE}\nobjectClass: organizationalUnit\nou: People\n\n\
         dn: ou=Groups,{BASE}\nobjectClass: organizationalUnit\nou: Groups\n"
    ));
    Some(s)
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(bin))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A CA and a server certificate for 127.0.0.1 / localhost, with openssl.
fn make_certificates(dir: &Path) -> PathBuf {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=tapbridge test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    dir.join("ca.pem")
}

impl Slapd {
    fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("slapd.log")).expect("log");
        let child = Command::new(SLAPD)
            .args(["-f"])
            .arg(&self.conf)
            .args(["-h", &format!("ldap://127.0.0.1:{}/", self.port), "-d", "0"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn slapd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ok = Command::new("ldapsearch")
                .args([
                    "-x",
                    "-H",
                    &self.url,
                    "-b",
                    "",
                    "-s",
                    "base",
                    "-LLL",
                    "namingContexts",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("slapd exited ({status}):\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("slapd did not start:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes the server (SIGSTOP): it accepts connections but answers nothing, so a sync
    /// talking to it waits, alive, in the middle of its run.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = self.child.as_ref().expect("slapd runs").id();
        let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "signal slapd");
    }

    /// Starts the server again on the same port and database.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    fn tool(&self, tool: &str, args: &[&str], input: &str) {
        use std::io::Write;
        let mut child = Command::new(tool)
            .args(["-x", "-H", &self.url, "-D", ADMIN_DN, "-w", ADMIN_PW])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
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
        assert!(
            out.status.success(),
            "{tool} failed: {}\n{input}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Adds entries (LDIF).
    pub fn add(&self, ldif: &str) {
        self.tool("ldapadd", &[], ldif);
    }

    /// Applies an LDIF change list (`changetype: modify / modrdn / delete`).
    pub fn modify(&self, ldif: &str) {
        self.tool("ldapmodify", &[], ldif);
    }

    pub fn delete(&self, dn: &str) {
        self.tool("ldapdelete", &[dn], "");
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// LDIF for a person under ou=People.
pub fn person(uid: &str, cn: &str, mail: Option<&str>) -> String {
    let mut s = format!(
        "dn: uid={uid},ou=People,{BASE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {cn}\n"
    );
    if let Some(m) = mail {
        s.push_str(&format!("mail: {m}\n"));
    }
    s.push('\n');
    s
}
