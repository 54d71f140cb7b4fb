//! The command line. One binary: the daemon and its administration commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tapbridge",
    version,
    about = "Passwordless onboarding: Temporary Access Passes, passkeys, and the SCIM/LDAP bridge that feeds them"
)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./tapbridge.toml if it exists.
    #[arg(short, long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: admin API, health and metrics, background jobs.
    Serve,
    /// Database maintenance.
    #[command(subcommand)]
    Db(DbCommand),
    /// API tokens for the admin API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Local users.
    #[command(subcommand)]
    User(UserCommand),
    /// Local groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Temporary Access Passes.
    #[command(subcommand)]
    Tap(TapCommand),
    /// The Temporary Access Pass policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Directory sync.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Send a test message through the configured mail transport (not the outbox).
    SendTestEmail {
        /// The address to send to.
        address: String,
    },
    /// The onboarding mail outbox.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Onboarding by e-mail.
    #[command(subcommand)]
    Onboarding(OnboardingCommand),
    /// The Microsoft Entra connector.
    #[command(subcommand)]
    Entra(EntraCommand),
    /// The OpenID Connect provider's signing keys.
    #[command(subcommand)]
    Keys(crate::commands::keys::KeysCommand),
    /// Applications (OAuth clients) of the OpenID Connect provider.
    #[command(subcommand)]
    App(crate::commands::app::AppCommand),
}

#[derive(Debug, Subcommand)]
pub enum EntraCommand {
    /// Get a token, read the tenant's Temporary Access Pass policy, and say whether the
    /// application's permissions and each Entra rule's pass terms fit. Exit code 1 if not.
    Check {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List queued and delivered messages (never a pass: none is stored).
    List {
        /// pending, sending, sent, failed or cancelled.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Put a failed or waiting message back in line for an attempt now.
    Retry { id: String },
    /// Cancel a message that has not been sent.
    Cancel { id: String },
}

#[derive(Debug, Subcommand)]
pub enum OnboardingCommand {
    /// Queue a new onboarding mail, with a fresh pass, for a user (id or user principal name).
    Resend { user: String },
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Sync users and groups from the configured LDAP / Active Directory sources.
    Ldap {
        /// Only this source (by name); default: every source.
        #[arg(long)]
        source: Option<String>,
        /// A full read with mark-and-sweep, even when a delta is possible.
        #[arg(long)]
        full: bool,
        /// Print what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Disable or delete even beyond the source's max_deprovision_share.
        #[arg(long)]
        force: bool,
        /// Print the reports as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations (serve does this too at start).
    Migrate,
    /// Copy this SQLite deployment into an empty PostgreSQL database (every table, counts
    /// verified). Start the PostgreSQL nodes with the same server secret.
    Copy {
        /// The target: postgres://USER@HOST:PORT/DATABASE (no password in the URL).
        #[arg(long)]
        to: String,
        /// A file holding the target's password.
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
        /// Verify the target's TLS certificate against this CA (verify-full).
        #[arg(long)]
        ca_file: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token. It is printed once and cannot be shown again.
    Create {
        /// A unique name, e.g. the client that will use it.
        #[arg(long)]
        name: String,
        /// A role (repeatable): authentication-administrator,
        /// privileged-authentication-administrator, authentication-policy-administrator,
        /// user-administrator, reader, application-administrator.
        #[arg(
            long = "role",
            required_unless_present = "scim_source",
            conflicts_with = "scim_source"
        )]
        roles: Vec<String>,
        /// Make a SCIM provisioning token for this source instead (e.g. `workday`): it may call
        /// /scim/v2 only, and sees only the users and groups it provisioned.
        #[arg(long, value_name = "SOURCE")]
        scim_source: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their values).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id or name.
    Revoke { token: String },
}

// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a local user.
    Add(UserAdd),
    /// Replace a user's administrative roles (no --role: none). Bootstraps the first admin
    /// of the web pages.
    SetRoles {
        /// User id or user principal name.
        user: String,
        /// A role (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// List users.
    List {
        /// Only users whose user principal name starts with this.
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct UserAdd {
    /// User principal name, e.g. ada@example.com
    pub upn: String,
    #[arg(long)]
    pub display_name: Option<String>,
    #[arg(long)]
    pub given_name: Option<String>,
    #[arg(long)]
    pub surname: Option<String>,
    #[arg(long)]
    pub mail: Option<String>,
    /// Another address, e.g. a personal one for onboarding mail (repeatable).
    #[arg(long = "other-mail")]
    pub other_mails: Vec<String>,
    /// Hire date, RFC 3339.
    #[arg(long)]
    pub hire_date: Option<String>,
    /// Personal address, where onboarding mail can go before the work mailbox exists.
    #[arg(long)]
    pub personal_email: Option<String>,
    /// Language for mail (a BCP 47 tag such as `de-CH`).
    #[arg(long)]
    pub language: Option<String>,
    /// Create the account disabled.
    #[arg(long)]
    pub disabled: bool,
    /// An administrative role for the user (repeatable).
    #[arg(long = "role")]
    pub roles: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Add a local group.
    Add {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Add a user to a group (group by id or unique name; user by id or UPN).
    AddMember { group: String, user: String },
    /// List groups.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TapCommand {
    /// Issue a pass for a user (replacing any pass they have) and print it once.
    Create {
        /// User id or user principal name.
        user: String,
        /// Lifetime in minutes (default: the policy's).
        #[arg(long, value_name = "MINUTES")]
        lifetime: Option<u32>,
        /// One-time use.
        #[arg(long)]
        once: bool,
        /// Start of validity, RFC 3339 (default: now).
        #[arg(long, value_name = "RFC3339")]
        start: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List passes and their state.
    List {
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Delete a user's pass.
    Delete { user: String },
    /// Delete passes expired longer ago than tap.retention_days.
    Purge,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the policy as Graph JSON.
    Show,
    /// Change the policy; unspecified settings keep their value.
    Set(PolicySet),
}

#[derive(Debug, Args)]
pub struct PolicySet {
    /// enabled | disabled
    #[arg(long)]
    pub state: Option<String>,
    #[arg(long, value_name = "MINUTES")]
    pub min_lifetime: Option<u32>,
    #[arg(long, value_name = "MINUTES")]
    pub max_lifetime: Option<u32>,
    #[arg(long, value_name = "MINUTES")]
    pub default_lifetime: Option<u32>,
    /// Pass length, 8 to 48.
    #[arg(long)]
    pub length: Option<u32>,
    /// Force every pass to be one-time (true|false).
    #[arg(long, value_name = "BOOL")]
    pub usable_once: Option<bool>,
    /// Included targets: `all_users` or group ids/names (repeatable; replaces the list).
    #[arg(long = "include")]
    pub include: Vec<String>,
    /// Excluded groups (repeatable; replaces the list). `--exclude none` clears it.
    #[arg(long = "exclude")]
    pub exclude: Vec<String>,
    /// A Graph PATCH body from a file (`-` for standard input) instead of the flags.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["state", "min_lifetime", "max_lifetime", "default_lifetime", "length", "usable_once", "include", "exclude"])]
    pub json: Option<PathBuf>,
}
