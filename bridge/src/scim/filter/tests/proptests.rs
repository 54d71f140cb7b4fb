//! Property tests: hostile input never panics, and printing round-trips.

use proptest::prelude::*;
use serde_json::{Number, Value};

use super::*;

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
        1 => Just("$ref".to_owned()),
        1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null"])
            .prop_map(str::to_owned),
    ]
}

fn arb_urn() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("urn:ietf:params:scim:schemas:core:2.0:User".to_owned()),
        Just(ENTERPRISE.to_owned()),
        "urn(:[a-zA-Z0-9._-]{1,6}){1,4}",
    ]
}

fn arb_path() -> impl Strategy<Value = AttrPath> {
    (
        prop::option::of(arb_urn()),
        arb_name(),
        prop::option::of(arb_name()),
    )
        .prop_map(|(urn, name, sub_attr)| AttrPath {
            urn,
            name,
            sub_attr,
        })
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        any::<u64>().prop_map(Number::from),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
    ]
}

fn arb_comparison(path: BoxedStrategy<AttrPath>) -> impl Strategy<Value = Filter> {
    let value = prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        arb_number().prop_map(CompValue::Number),
        any::<String>().prop_map(CompValue::String),
    ];
    (path, prop::sample::select(CompareOp::ALL.to_vec()), value).prop_filter_map(
        "operator accepts value",
        |(path, op, value)| {
            op.accepts(&value)
                .then_some(Filter::Compare { path, op, value })
        },
    )
}

fn arb_tree(
    leaf: BoxedStrategy<Filter>,
    value_path: Option<BoxedStrategy<Filter>>,
) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(4, 24, 2, move |inner| {
        let mut choices = vec![
            inner.clone().prop_map(|f| !f).boxed(),
            (
                inner.clone(),
                inner.clone(),
                prop::collection::vec(inner.clone(), 0..2),
            )
                .prop_map(|(a, b, rest)| Filter::And(Operands::with_rest(a, b, rest)))
                .boxed(),
            (
                inner.clone(),
                inner.clone(),
                prop::collection::vec(inner, 0..2),
            )
                .prop_map(|(a, b, rest)| Filter::Or(Operands::with_rest(a, b, rest)))
                .boxed(),
        ];
        if let Some(value_path) = &value_path {
            choices.push(value_path.clone());
        }
        prop::strategy::Union::new(choices).boxed()
    })
    .boxed()
}

/// Filters over sub-attributes, as allowed between brackets.
fn arb_value_filter() -> BoxedStrategy<Filter> {
    let sub_path = arb_name().prop_map(AttrPath::new).boxed();
    let leaf = prop_oneof![
        sub_path.clone().prop_map(Filter::Present),
        arb_comparison(sub_path),
    ]
    .boxed();
    arb_tree(leaf, None)
}

/// Any filter the parser can produce.
fn arb_filter() -> BoxedStrategy<Filter> {
    let value_path = (prop::option::of(arb_urn()), arb_name(), arb_value_filter())
        .prop_map(|(urn, name, filter)| {
            Filter::value_path(
                AttrPath {
                    urn,
                    name,
                    sub_attr: None,
                },
                filter,
            )
        })
        .boxed();
    let leaf = prop_oneof![
        arb_path().prop_map(Filter::Present),
        arb_comparison(arb_path().boxed()),
        value_path.clone(),
    ]
    .boxed();
    arb_tree(leaf, Some(value_path))
}

/// Strings made of filter-language fragments, to reach deep into the parser.
fn arb_filter_soup() -> impl Strategy<Value = String> {
    let fragments = vec![
        "userName",
        "emails",
        "name.familyName",
        "value",
        "type",
        "eq",
        "ne",
        "co",
        "sw",
        "gt",
        "le",
        "pr",
        "and",
        "or",
        "not",
        "(",
        ")",
        "[",
        "]",
        ".",
        "\"x\"",
        "\"a\\\"b\"",
        "1",
        "-2.5e3",
        "true",
        "null",
        " ",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "\"\\u",
        "$ref",
        ":",
        "\"",
    ];
    prop::collection::vec(prop::sample::select(fragments), 0..40).prop_map(|parts| parts.join(" "))
}

proptest! {
    #[test]
    fn parser_never_panics_on_arbitrary_strings(input in any::<String>()) {
        let _ = parse_filter(&input);
        let _ = parse_path(&input);
    }

    #[test]
    fn parser_never_panics_on_filter_like_strings(input in "[a-zA-Z0-9 .:$_\\[\\]()\"\\\\-]{0,80}") {
        let _ = parse_filter(&input);
        let _ = parse_path(&input);
    }

    #[test]
    fn whatever_parses_prints_back_to_itself(input in arb_filter_soup()) {
        if let Ok(filter) = parse_filter(&input) {
            prop_assert_eq!(parse_filter(&filter.to_string()), Ok(filter));
        }
        if let Ok(path) = parse_path(&input) {
            prop_assert_eq!(parse_path(&path.to_string()), Ok(path));
        }
    }

    #[test]
    fn generated_filters_round_trip(filter in arb_filter()) {
        let printed = filter.to_string();
        prop_assert_eq!(parse_filter(&printed), Ok(filter.clone()), "printed as {}", printed);
        // Printing is canonical: a second round prints the same text.
        prop_assert_eq!(parse_filter(&printed).map(|f| f.to_string()), Ok(printed));
    }

    #[test]
    fn generated_paths_round_trip(
        attr in arb_path().prop_filter("no sub-attribute before a filter", |p| p.sub_attr.is_none()),
        filter in prop::option::of(arb_value_filter()),
        sub in prop::option::of(arb_name()),
    ) {
        let path = match filter {
            Some(filter) => PatchPath { attr: AttrPath { sub_attr: sub, ..attr }, filter: Some(filter) },
            None => PatchPath { attr, filter: None },
        };
        prop_assert_eq!(parse_path(&path.to_string()), Ok(path));
    }

    #[test]
    fn evaluation_never_panics(filter in arb_filter(), resource in arb_json()) {
        let _ = matches(&filter, &resource, &|_| false);
        let _ = matches(&filter, &resource, &|_| true);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        prop_oneof![
            "[a-zA-Z ]{0,6}",
            Just("2011-05-13T04:42:34Z".to_owned()),
            any::<String>()
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "userName", "emails", "type", "value", "name", "a", ENTERPRISE
                ]),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}
