//! `[scim]`: the SCIM 2.0 endpoint and its attribute mapping.

use serde::Deserialize;

use super::{ConfigError, bad};

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScimConfig {
    pub enabled: bool,
    pub max_results: u32,
    pub personal_email_attribute: String,
    pub hire_date_attribute: String,
}

impl Default for ScimConfig {
    fn default() -> Self {
        ScimConfig {
            enabled: true,
            max_results: 1000,
            personal_email_attribute: bridge::provisioning::mapping::DEFAULT_PERSONAL_EMAIL.into(),
            hire_date_attribute: bridge::provisioning::mapping::DEFAULT_HIRE_DATE.into(),
        }
    }
}

impl ScimConfig {
    /// The attribute mapping, checked: a path that does not parse or names no attribute is
    /// a configuration error.
    pub fn mapping(&self) -> Result<bridge::provisioning::Mapping, String> {
        bridge::provisioning::Mapping::new(
            &self.personal_email_attribute,
            &self.hire_date_attribute,
        )
    }
}

impl ScimConfig {
    /// Checks the section's values.
    pub fn validate(&self, errors: &mut Vec<ConfigError>) {
        if !(1..=10_000).contains(&self.max_results) {
            errors.push(bad("scim.max_results", "must be between 1 and 10000"));
        }
        if let Err(e) =
            bridge::provisioning::Mapping::new(&self.personal_email_attribute, "userName")
        {
            errors.push(bad("scim.personal_email_attribute", e));
        }
        if let Err(e) = bridge::provisioning::Mapping::new("userName", &self.hire_date_attribute) {
            errors.push(bad("scim.hire_date_attribute", e));
        }
    }
}
