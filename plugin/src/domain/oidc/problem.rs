//! What stops an authorization or a logout before anything can be sent to an application:
//! shown to the person as a page (in their language; `message` is the English text for logs
//! and tests), never redirected anywhere.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    ClientRepeated,
    ClientMissing,
    ClientUnknown,
    RedirectRepeated,
    RedirectMissing,
    RedirectUnregistered,
    /// An authorization request by POST that is not a form.
    NotAForm,
    /// The flow expired, or was completed already.
    FlowGone,
    /// The application was removed, or its redirect URI, while the user signed in.
    ApplicationChanged,
    LogoutForeignToken,
    LogoutOtherIssuer,
    LogoutTwoApplications,
    LogoutUnknownApplication,
    LogoutReturnWithoutApplication,
    LogoutReturnUnregistered,
}

impl Problem {
    /// The English text.
    pub fn message(self) -> &'static str {
        match self {
            Problem::ClientRepeated => "The request names its application more than once.",
            Problem::ClientMissing => {
                "The request does not say which application it is for (client_id is missing)."
            }
            Problem::ClientUnknown => {
                "The application in the request (client_id) is not known here."
            }
            Problem::RedirectRepeated => "The request names its redirect URI more than once.",
            Problem::RedirectMissing => {
                "The request has no redirect URI (redirect_uri is missing)."
            }
            Problem::RedirectUnregistered => {
                "The redirect URI in the request is not registered for this application. Its administrator must register it exactly."
            }
            Problem::NotAForm => {
                "An authorization request sent by POST must be a form (application/x-www-form-urlencoded)."
            }
            Problem::FlowGone => {
                "This sign-in has expired or was already completed. Go back to the application and start again."
            }
            Problem::ApplicationChanged => {
                "The application was removed or changed while you were signing in."
            }
            Problem::LogoutForeignToken => {
                "The sign-out request carries an ID token this server did not issue."
            }
            Problem::LogoutOtherIssuer => {
                "The sign-out request carries an ID token of another issuer."
            }
            Problem::LogoutTwoApplications => {
                "The sign-out request names two different applications."
            }
            Problem::LogoutUnknownApplication => {
                "The application asking to sign you out is not known here."
            }
            Problem::LogoutReturnWithoutApplication => {
                "The sign-out request names a return address but not its application (id_token_hint or client_id)."
            }
            Problem::LogoutReturnUnregistered => {
                "The return address in the sign-out request is not registered for the application."
            }
        }
    }

    /// The key of the pages' catalogue that says it.
    pub fn key(self) -> &'static str {
        match self {
            Problem::ClientRepeated => "oidc_problem_client_repeated",
            Problem::ClientMissing => "oidc_problem_client_missing",
            Problem::ClientUnknown => "oidc_problem_client_unknown",
            Problem::RedirectRepeated => "oidc_problem_redirect_repeated",
            Problem::RedirectMissing => "oidc_problem_redirect_missing",
            Problem::RedirectUnregistered => "oidc_problem_redirect_unregistered",
            Problem::NotAForm => "oidc_problem_not_a_form",
            Problem::FlowGone => "oidc_problem_flow_gone",
            Problem::ApplicationChanged => "oidc_problem_application_changed",
            Problem::LogoutForeignToken => "oidc_problem_logout_foreign_token",
            Problem::LogoutOtherIssuer => "oidc_problem_logout_other_issuer",
            Problem::LogoutTwoApplications => "oidc_problem_logout_two_applications",
            Problem::LogoutUnknownApplication => "oidc_problem_logout_unknown_application",
            Problem::LogoutReturnWithoutApplication => {
                "oidc_problem_logout_return_without_application"
            }
            Problem::LogoutReturnUnregistered => "oidc_problem_logout_return_unregistered",
        }
    }

    pub const ALL: [Problem; 15] = [
        Problem::ClientRepeated,
        Problem::ClientMissing,
        Problem::ClientUnknown,
        Problem::RedirectRepeated,
        Problem::RedirectMissing,
        Problem::RedirectUnregistered,
        Problem::NotAForm,
        Problem::FlowGone,
        Problem::ApplicationChanged,
        Problem::LogoutForeignToken,
        Problem::LogoutOtherIssuer,
        Problem::LogoutTwoApplications,
        Problem::LogoutUnknownApplication,
        Problem::LogoutReturnWithoutApplication,
        Problem::LogoutReturnUnregistered,
    ];
}
