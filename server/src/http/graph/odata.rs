//! OData query options and collection responses.

use std::collections::HashMap;

use axum::Json;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::http::AppState;
use plugin::{Error, Result};

/// Default and largest page sizes, as Graph's directory endpoints.
pub const DEFAULT_TOP: u32 = 100;
pub const MAX_TOP: u32 = 999;

/// The parsed options of one collection request.
pub struct Options<'a> {
    raw: &'a HashMap<String, String>,
    pub top: u32,
    /// The position to continue after, decoded from `$skiptoken`.
    pub after: Option<String>,
    select: Option<Vec<String>>,
}

impl<'a> Options<'a> {
    /// Parses `$top`, `$skiptoken` and `$select`; `extra` names further `$` options the
    /// endpoint understands. Any other `$` option is refused rather than silently ignored.
    pub fn parse(raw: &'a HashMap<String, String>, extra: &[&str]) -> Result<Self> {
        for key in raw.keys() {
            let known = ["$top", "$skiptoken", "$select"].contains(&key.as_str())
                || extra.contains(&key.as_str());
            if key.starts_with('$') && !known {
                return Err(Error::invalid(format!(
                    "query option `{key}` is not supported on this resource"
                )));
            }
        }
        let top = match raw.get("$top") {
            None => DEFAULT_TOP,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_TOP).contains(&n) => n,
                _ => {
                    return Err(Error::invalid(format!(
                        "$top must be a whole number from 1 to {MAX_TOP}"
                    )));
                }
            },
        };
        let after = match raw.get("$skiptoken") {
            None => None,
            Some(t) => Some(
                URL_SAFE_NO_PAD
                    .decode(t.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| Error::invalid("$skiptoken is not one this server issued"))?,
            ),
        };
        let select = raw.get("$select").map(|s| {
            s.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
        });
        Ok(Options {
            raw,
            top,
            after,
            select,
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.raw.get(key).map(String::as_str)
    }

    /// Keeps only the selected properties (plus OData annotations) when `$select` was given.
    /// Property names compare case-insensitively, as Graph's do.
    pub fn project(&self, item: Value) -> Value {
        let (Some(select), Value::Object(map)) = (&self.select, &item) else {
            return item;
        };
        let kept: Map<String, Value> = map
            .iter()
            .filter(|(k, _)| k.starts_with('@') || select.iter().any(|s| s.eq_ignore_ascii_case(k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Value::Object(kept)
    }
}

/// A Graph collection: `@odata.context`, `value`, and `@odata.nextLink` when `next` (the last
/// item's paging key) is given.
pub fn collection(
    state: &AppState,
    context: &str,
    path: &str,
    options: &Options<'_>,
    items: Vec<Value>,
    next: Option<String>,
) -> Json<Value> {
    let base = &state.settings.public_url;
    let mut body = json!({
        "@odata.context": format!("{base}/v1.0/$metadata#{context}"),
        "value": items.into_iter().map(|i| options.project(i)).collect::<Vec<_>>(),
    });
    if let Some(next) = next {
        let mut query = form_urlencoded::Serializer::new(String::new());
        let mut keys: Vec<_> = options.raw.keys().filter(|k| *k != "$skiptoken").collect();
        keys.sort();
        for k in keys {
            query.append_pair(k, &options.raw[k]);
        }
        query.append_pair("$skiptoken", &URL_SAFE_NO_PAD.encode(next.as_bytes()));
        body["@odata.nextLink"] = Value::String(format!("{base}{path}?{}", query.finish()));
    }
    Json(body)
}

/// Pages are fetched one item long; the extra item says whether a next page exists.
pub fn split_page<T>(mut items: Vec<T>, top: u32) -> (Vec<T>, bool) {
    let more = items.len() > top as usize;
    items.truncate(top as usize);
    (items, more)
}
