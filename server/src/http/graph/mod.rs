//! Graph-compatible routes under `/v1.0`. Paths, JSON shapes and enum strings follow Microsoft
//! Graph so that existing Graph clients and scripts work against tapbridge.

mod applications;
mod audit;
mod fido2;
mod filter;
mod groups;
mod methods;
mod odata;
mod policy;
mod tap_methods;
mod users;

use axum::Router;
use axum::routing::get;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1.0/users", get(users::list_users).post(users::create_user))
        .route("/v1.0/users/{user}", get(users::get_user))
        .route("/v1.0/users/{user}/authentication/methods", get(methods::list_methods))
        .route(
            "/v1.0/users/{user}/authentication/temporaryAccessPassMethods",
            get(tap_methods::list_taps).post(tap_methods::create_tap),
        )
        .route(
            "/v1.0/users/{user}/authentication/temporaryAccessPassMethods/{id}",
            get(tap_methods::get_tap).delete(tap_methods::delete_tap),
        )
        .route("/v1.0/groups", get(groups::list_groups).post(groups::create_group))
        .route("/v1.0/groups/{group}", get(groups::get_group))
        .route("/v1.0/groups/{group}/members", get(groups::list_members))
        .route("/v1.0/groups/{group}/members/$ref", axum::routing::post(groups::add_member))
        .route(
            "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass",
            get(policy::get_tap_policy).patch(policy::patch_tap_policy),
        )
        .route(
            "/v1.0/users/{user}/authentication/fido2Methods",
            get(fido2::list_fido2_methods),
        )
        .route(
            "/v1.0/users/{user}/authentication/fido2Methods/{id}",
            get(fido2::get_fido2_method).delete(fido2::delete_fido2_method),
        )
        .route(
            "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Fido2",
            get(fido2::get_fido2_policy).patch(fido2::patch_fido2_policy),
        )
        .route("/v1.0/auditLogs/directoryAudits", get(audit::list_directory_audits))
        .route(
            "/v1.0/applications",
            get(applications::list_applications).post(applications::create_application),
        )
        .route(
            "/v1.0/applications/{id}",
            get(applications::get_application)
                .patch(applications::update_application)
                .delete(applications::delete_application),
        )
        .route(
            "/v1.0/applications/{id}/addPassword",
            axum::routing::post(applications::add_password),
        )
        .route(
            "/v1.0/applications/{id}/removePassword",
            axum::routing::post(applications::remove_password),
        )
}
