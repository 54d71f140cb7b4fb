//! Listing and searching (RFC 7644 §3.4.2, §3.4.3): filter, sort, page, project.

use std::cmp::Ordering;
use std::collections::HashMap;

use plugin::platform::Provisioner;
use serde_json::Value;

use super::resource::{
    case_exact, get_ci, group_schema, parse_attribute_list, project, user_schema, value_at,
};
use super::store::Kind;
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

/// Every attribute path in the filter must name an attribute of the resource type.
fn check_filter(filter: &Filter, parent: Option<&AttrPath>, schema: &ResourceSchema) -> Result<()> {
    let known = |p: &AttrPath| {
        let full = match parent {
            Some(parent) => AttrPath {
                urn: parent.urn.clone(),
                name: parent.name.clone(),
                sub_attr: Some(p.name.clone()),
            },
            None => p.clone(),
        };
        if schema.resolve(&full).is_some() {
            Ok(())
        } else {
            Err(Error::bad(
                ScimType::InvalidFilter,
                format!("unknown attribute `{full}` in filter"),
            ))
        }
    };
    match filter {
        Filter::Present(p) | Filter::Compare { path: p, .. } => known(p),
        Filter::ValuePath { path, filter } => {
            known(path)?;
            check_filter(filter, Some(path), schema)
        }
        Filter::Not(inner) => check_filter(inner, parent, schema),
        Filter::And(ops) | Filter::Or(ops) => {
            ops.iter().try_for_each(|f| check_filter(f, parent, schema))
        }
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
        let understood: Vec<Kind> = [Kind::User, Kind::Group]
            .into_iter()
            .filter(|k| {
                q.filter
                    .as_ref()
                    .is_none_or(|f| check_filter(f, None, schema_of(*k)).is_ok())
            })
            .collect();
        if understood.is_empty()
            && let Some(f) = &q.filter
        {
            check_filter(f, None, user_schema())?;
        }
        self.query(who, &understood, q).await
    }

    pub async fn list(&self, who: &Provisioner, kind: Kind, q: &ListQuery) -> Result<Page> {
        if let Some(f) = &q.filter {
            check_filter(f, None, schema_of(kind))?;
        }
        self.query(who, &[kind], q).await
    }

    /// Filters, sorts, pages and projects the resources of `kinds`, whose schemas the filter
    /// has been checked against.
    async fn query(&self, who: &Provisioner, kinds: &[Kind], q: &ListQuery) -> Result<Page> {
        if let Some(s) = &q.sort_by
            && !kinds.iter().any(|k| schema_of(*k).resolve(s).is_some())
        {
            return Err(invalid(format!("sortBy names an unknown attribute `{s}`")));
        }
        let mut all: Vec<(Kind, Value)> = Vec::new();
        for &kind in kinds {
            let mut items = match kind {
                Kind::User => {
                    self.all_users(who, q.filter.as_ref().and_then(user_name_lookup))
                        .await?
                }
                Kind::Group => self.all_groups(who).await?,
            };
            if let Some(f) = &q.filter {
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
        assert!(check_filter(&f, None, user_schema()).is_ok());
        let f = parse_filter("shoeSize gt 40").unwrap();
        assert!(check_filter(&f, None, user_schema()).is_err());
        let f = parse_filter("emails[colour eq \"red\"]").unwrap();
        assert!(check_filter(&f, None, user_schema()).is_err());
    }
}
