//! Listing and searching (RFC 7644 §3.4.2, §3.4.3): filter, sort, page, project.

use std::cmp::Ordering;
use std::collections::HashMap;

use plugin::platform::Provisioner;
use serde_json::Value;

use super::Kind;
use super::resource::{
    case_exact, get_ci, group_schema, keeps_members, parse_attribute_list, project, user_schema,
    value_at,
};
use super::{Page, Scim};
use crate::error::{Error, Result, ScimType};
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter, matches, parse_filter};
use crate::scim::schema::{PatchSchema, ResourceSchema, USER_SCHEMA};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based.
    pub start_index: usize,
    /// `None`: the server's maximum.
    pub count: Option<usize>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

fn invalid(detail: String) -> Error {
    Error::bad(ScimType::InvalidValue, detail)
}

fn parse_int(name: &str, value: &str) -> Result<i64> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| invalid(format!("{name} must be an integer, got `{value}`")))
}

impl ListQuery {
    /// From query parameters. Parameter names are matched case-insensitively.
    pub fn from_params(params: &HashMap<String, String>) -> Result<Self> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let mut q = ListQuery {
            start_index: 1,
            ..Default::default()
        };
        if let Some(f) = get("filter") {
            q.filter = Some(
                parse_filter(f).map_err(|e| Error::bad(ScimType::InvalidFilter, e.to_string()))?,
            );
        }
        if let Some(s) = get("startIndex") {
            q.start_index = parse_int("startIndex", s)?.max(1) as usize;
        }
        if let Some(c) = get("count") {
            q.count = Some(parse_int("count", c)?.max(0) as usize);
        }
        if let Some(s) = get("sortBy") {
            q.sort_by = Some(AttrPath::parse(s).map_err(|e| invalid(format!("sortBy: {e}")))?);
        }
        if let Some(o) = get("sortOrder") {
            q.descending = parse_order(o)?;
        }
        if let Some(a) = get("attributes") {
            q.attributes = parse_attribute_list(a)?;
        }
        if let Some(a) = get("excludedAttributes") {
            q.excluded = parse_attribute_list(a)?;
        }
        Ok(q)
    }

    /// From a `POST …/.search` body (a `SearchRequest`).
    pub fn from_search(body: &Value) -> Result<Self> {
        if !body.is_object() {
            return Err(Error::bad(
                ScimType::InvalidSyntax,
                "a SearchRequest must be a JSON object",
            ));
        }
        let schemas_ok = get_ci(body, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.iter()
                    .any(|u| u.as_str() == Some(super::resource::SEARCH_REQUEST_SCHEMA))
            });
        if !schemas_ok {
            return Err(Error::bad(
                ScimType::InvalidSyntax,
                format!(
                    "`schemas` must list {}",
                    super::resource::SEARCH_REQUEST_SCHEMA
                ),
            ));
        }
        let mut params = HashMap::new();
        for key in [
            "filter",
            "sortBy",
            "sortOrder",
            "startIndex",
            "count",
            "attributes",
            "excludedAttributes",
        ] {
            let Some(v) = get_ci(body, key) else { continue };
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                Value::Null => continue,
                _ => {
                    return Err(Error::bad(
                        ScimType::InvalidSyntax,
                        format!("`{key}` has the wrong type"),
                    ));
                }
            };
            params.insert(key.to_owned(), text);
        }
        Self::from_params(&params)
    }
}

fn parse_order(o: &str) -> Result<bool> {
    match o.to_ascii_lowercase().as_str() {
        "ascending" => Ok(false),
        "descending" => Ok(true),
        _ => Err(invalid(format!(
            "sortOrder must be ascending or descending, got `{o}`"
        ))),
    }
}

/// The filter with its paths resolved against `schema` (see
/// [`PatchSchema::canonical_filter`]): unknown and write-only attributes are `invalidFilter`.
fn resolve_filter(filter: &Filter, schema: &ResourceSchema) -> Result<Filter> {
    schema
        .canonical_filter(filter)
        .map_err(|e| Error::bad(ScimType::InvalidFilter, e.to_string()))
}

/// Whether the filter tests the top-level core attribute `name` (canonical spelling).
fn mentions(filter: &Filter, name: &str) -> bool {
    match filter {
        Filter::Present(p)
        | Filter::Compare { path: p, .. }
        | Filter::ValuePath { path: p, .. } => p.urn.is_none() && p.name == name,
        Filter::Not(inner) => mentions(inner, name),
        Filter::And(ops) | Filter::Or(ops) => ops.iter().any(|f| mentions(f, name)),
    }
}

/// `userName eq "…"`: answered from the index.
fn user_name_lookup(filter: &Filter) -> Option<&str> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(v),
        } if path.name.eq_ignore_ascii_case("userName")
            && path.sub_attr.is_none()
            && path
                .urn
                .as_deref()
                .is_none_or(|u| u.eq_ignore_ascii_case(USER_SCHEMA)) =>
        {
            Some(v)
        }
        _ => None,
    }
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        // Resources without a value sort last, ascending (RFC 7644 §3.4.2.3).
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

fn schema_of(kind: Kind) -> &'static ResourceSchema {
    match kind {
        Kind::User => user_schema(),
        Kind::Group => group_schema(),
    }
}

impl Scim {
    /// `POST /.search` at the root: every resource type at once (RFC 7644 §3.4.3). A type
    /// whose schema lacks an attribute the filter names contributes nothing; a filter no
    /// type understands is an error.
    pub async fn search_all(&self, who: &Provisioner, q: &ListQuery) -> Result<Page> {
        let Some(filter) = &q.filter else {
            return self
                .query(who, &[(Kind::User, None), (Kind::Group, None)], q)
                .await;
        };
        let understood: Vec<(Kind, Option<Filter>)> = [Kind::User, Kind::Group]
            .into_iter()
            .filter_map(|k| {
                resolve_filter(filter, schema_of(k))
                    .ok()
                    .map(|f| (k, Some(f)))
            })
            .collect();
        if understood.is_empty() {
            resolve_filter(filter, user_schema())?;
        }
        self.query(who, &understood, q).await
    }

    pub async fn list(&self, who: &Provisioner, kind: Kind, q: &ListQuery) -> Result<Page> {
        let filter = q
            .filter
            .as_ref()
            .map(|f| resolve_filter(f, schema_of(kind)))
            .transpose()?;
        self.query(who, &[(kind, filter)], q).await
    }

    /// Filters, sorts, pages and projects the resources of each kind with its filter, already
    /// resolved against the kind's schema.
    async fn query(
        &self,
        who: &Provisioner,
        kinds: &[(Kind, Option<Filter>)],
        q: &ListQuery,
    ) -> Result<Page> {
        if let Some(s) = &q.sort_by
            && !kinds
                .iter()
                .any(|(k, _)| schema_of(*k).resolve(s).is_some())
        {
            return Err(invalid(format!("sortBy names an unknown attribute `{s}`")));
        }
        let mut all: Vec<(Kind, Value)> = Vec::new();
        for (kind, filter) in kinds {
            let kind = *kind;
            let mut items = match kind {
                Kind::User => {
                    self.all_users(who, filter.as_ref().and_then(user_name_lookup))
                        .await?
                }
                Kind::Group => {
                    // Members are read only when the answer, the filter or the order needs
                    // them: Entra lists groups with `excludedAttributes=members`.
                    let with_members = keeps_members(&q.attributes, &q.excluded)
                        || filter.as_ref().is_some_and(|f| mentions(f, "members"))
                        || q.sort_by
                            .as_ref()
                            .and_then(|s| group_schema().resolve(s))
                            .is_some_and(|r| r.attribute.name == "members");
                    self.all_groups(who, with_members).await?
                }
            };
            if let Some(f) = filter {
                let exact = case_exact(schema_of(kind));
                items.retain(|r| matches(f, r, &exact));
            }
            all.extend(items.into_iter().map(|r| (kind, r)));
        }
        if let Some(path) = &q.sort_by {
            all.sort_by(|(ka, a), (kb, b)| {
                let o = compare(
                    value_at(a, path, schema_of(*ka)),
                    value_at(b, path, schema_of(*kb)),
                );
                if q.descending { o.reverse() } else { o }
            });
        }
        let total_results = all.len();
        let count = q
            .count
            .unwrap_or(usize::MAX)
            .min(self.settings.max_results as usize);
        let resources = all
            .into_iter()
            .skip(q.start_index.saturating_sub(1))
            .take(count)
            .map(|(kind, r)| project(r, &q.attributes, &q.excluded, schema_of(kind)))
            .collect();
        Ok(Page {
            total_results,
            start_index: q.start_index,
            resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_parameters() {
        let q = ListQuery::from_params(&params(&[
            ("filter", "userName eq \"a\""),
            ("startIndex", "0"),
            ("count", "-5"),
            ("sortBy", "name.familyName"),
            ("sortOrder", "Descending"),
        ]))
        .unwrap();
        assert_eq!((q.start_index, q.count, q.descending), (1, Some(0), true));
        assert_eq!(user_name_lookup(q.filter.as_ref().unwrap()), Some("a"));
        assert!(ListQuery::from_params(&params(&[("filter", "userName eq")])).is_err());
        assert!(ListQuery::from_params(&params(&[("count", "ten")])).is_err());
        assert!(ListQuery::from_params(&params(&[("sortOrder", "up")])).is_err());
    }

    #[test]
    fn search_bodies() {
        let q = ListQuery::from_search(&json!({
            "schemas": [super::super::resource::SEARCH_REQUEST_SCHEMA],
            "attributes": ["userName", "emails"],
            "filter": "displayName sw \"A\"",
            "startIndex": 2,
            "count": 10
        }))
        .unwrap();
        assert_eq!(
            (q.start_index, q.count, q.attributes.len()),
            (2, Some(10), 2)
        );
        assert!(ListQuery::from_search(&json!({"filter": "x pr"})).is_err());
    }

    #[test]
    fn filters_must_name_known_attributes() {
        let f = parse_filter("emails[type eq \"work\"] and name.familyName pr").unwrap();
        assert!(resolve_filter(&f, user_schema()).is_ok());
        let f = parse_filter("shoeSize gt 40").unwrap();
        assert!(resolve_filter(&f, user_schema()).is_err());
        let f = parse_filter("emails[colour eq \"red\"]").unwrap();
        assert!(resolve_filter(&f, user_schema()).is_err());
    }

    #[test]
    fn an_unqualified_manager_filter_matches_like_the_qualified_one() {
        let user = json!({
            "schemas": [USER_SCHEMA, crate::scim::schema::ENTERPRISE_USER_SCHEMA],
            "id": "U",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "M"}}
        });
        let exact = case_exact(user_schema());
        for (filter, hit) in [
            (r#"id eq "U" and manager eq "M""#, true),
            (r#"manager.value eq "M""#, true),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "M""#,
                true,
            ),
            (r#"manager eq "X""#, false),
        ] {
            let f = resolve_filter(&parse_filter(filter).unwrap(), user_schema()).unwrap();
            assert_eq!(matches(&f, &user, &exact), hit, "{filter}");
        }
    }

    #[test]
    fn group_members_are_read_only_when_needed() {
        let q = |pairs: &[(&str, &str)]| ListQuery::from_params(&params(pairs)).unwrap();
        assert!(keeps_members(&q(&[]).attributes, &q(&[]).excluded));
        let excluded = q(&[("excludedAttributes", "members")]);
        assert!(!keeps_members(&excluded.attributes, &excluded.excluded));
        let only_name = q(&[("attributes", "displayName")]);
        assert!(!keeps_members(&only_name.attributes, &only_name.excluded));
        let member_ids = q(&[("attributes", "displayName,Members.value")]);
        assert!(keeps_members(&member_ids.attributes, &member_ids.excluded));
        let f = resolve_filter(
            &parse_filter(r#"members[value eq "x"] or displayName eq "a""#).unwrap(),
            group_schema(),
        )
        .unwrap();
        assert!(mentions(&f, "members"));
        assert!(!mentions(
            &parse_filter(r#"displayName eq "a""#).unwrap(),
            "members"
        ));
    }
}
