//! Fuzz-style property tests: every response decoder, the journal readers
//! and the config loader take arbitrary bytes (and valid documents mutated
//! byte by byte or node by node) without panicking, and whatever they
//! return is clean text: no control character or bidi control from the
//! input survives into a reading or an error message.

use std::io::Write;

use flightdeck::sources::http::Fields;
use flightdeck::sources::{self, FetchError, argocd, command, github, gitlab, kubernetes, prometheus};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

fn cfg(cases: u32) -> ProptestConfig {
    // No regression files: an integration test has no lib.rs beside it.
    ProptestConfig { cases, max_shrink_iters: 2048, failure_persistence: None, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------- cleanliness

fn is_bidi_or_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// Text that may reach a terminal: no C0/C1 control, no bidi control.
fn assert_clean(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|&c| c.is_control() || is_bidi_or_invisible(c)) {
        let shown: String = text.chars().take(300).collect();
        panic!("{what} carries {c:?}: {shown:?}");
    }
}

fn is_clean(text: &str) -> bool {
    !text.chars().any(|c| c.is_control() || is_bidi_or_invisible(c))
}

/// Pointers come from the config, not from the source: messages may quote
/// them, so cleanliness is only required when they are clean themselves.
fn fields_clean(fields: &Fields) -> bool {
    fields.pointers().all(|(_, p)| is_clean(p))
}

fn assert_clean_reading(reading: &flightdeck::model::Reading) {
    for (name, value) in [
        ("version", &reading.version),
        ("build", &reading.build),
        ("commit", &reading.commit),
        ("digest", &reading.digest),
    ] {
        if let Some(v) = value {
            assert_clean(name, v);
        }
    }
    for (k, v) in &reading.attributes {
        assert_clean("attribute name", k);
        assert_clean("attribute value", v);
    }
    if let Some(p) = &reading.previous {
        assert_clean("previous version", &p.version);
        for v in [&p.build, &p.commit, &p.digest, &p.reference].into_iter().flatten() {
            assert_clean("previous artifact", v);
        }
    }
}

fn assert_clean_error(err: &FetchError) {
    assert_clean("error", &err.to_string());
}

fn assert_clean_result(result: &Result<flightdeck::model::Reading, FetchError>) {
    match result {
        Ok(reading) => assert_clean_reading(reading),
        Err(e) => assert_clean_error(e),
    }
}

// ----------------------------------------------------------------- documents

/// Strings that mean something to some decoder, or to a terminal.
const WORDS: &[&str] = &[
    "",
    " ",
    "\u{1b}]0;pwned\u{7}",
    "\u{1b}[2J",
    "\u{1b}]8;;http://evil\u{1b}\\x",
    "\u{202e}",
    "\u{9b}31m",
    "\u{0}",
    "测试版🚀",
    "v1.4.0",
    "1.4.0-rc.1+build.7",
    "01.002.0003",
    "18446744073709551616",
    "-1",
    "NaN",
    "+Inf",
    "-Inf",
    "1e999",
    "2026-11-24T18:00:00Z",
    "9999-99-99T99:99:99Z",
    "success",
    "inactive",
    "failure",
    "running",
    "Healthy",
    "Degraded",
    "Progressing",
    "UP",
    "DOWN",
    "OUT_OF_SERVICE",
    "/version",
    "~1",
    "registry.example/shop/payments:1.4.0@sha256:feedbeef",
    "payments:",
    "@sha256:",
    ":::@@@",
    "payments",
    "production",
    "prod",
    "app",
    "vector",
    "matrix",
    "scalar",
    "string",
    "error",
    "True",
    "False",
];

/// Keys the decoders look for.
const KEYS: &[&str] = &[
    "version",
    "build",
    "commit",
    "digest",
    "deployed_at",
    "health",
    "status",
    "data",
    "result",
    "resultType",
    "value",
    "values",
    "metric",
    "errorType",
    "error",
    "summary",
    "images",
    "history",
    "sync",
    "revision",
    "revisions",
    "deployedAt",
    "id",
    "metadata",
    "annotations",
    "deployment.kubernetes.io/revision",
    "spec",
    "template",
    "containers",
    "image",
    "name",
    "conditions",
    "type",
    "reason",
    "replicas",
    "updatedReplicas",
    "readyReplicas",
    "availableReplicas",
    "observedGeneration",
    "generation",
    "ref",
    "sha",
    "payload",
    "created_at",
    "updated_at",
    "finished_at",
    "state",
    "environment",
    "deployable",
    "pipeline",
    "iid",
    "message",
    "items",
    "ownerReferences",
    "uid",
    "kind",
];

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => proptest::sample::select(WORDS).prop_map(String::from),
        2 => any::<String>(),
        1 => "[0-9a-z.+@:/-]{0,40}",
        1 => (proptest::sample::select(WORDS), 1usize..2000).prop_map(|(w, n)| w.repeat(n.min(20_000 / (w.len() + 1)))),
    ]
    .boxed()
}

fn key() -> BoxedStrategy<String> {
    prop_oneof![4 => proptest::sample::select(KEYS).prop_map(String::from), 1 => text()].boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
    .boxed()
}

/// JSON pointers to every node of `value`.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                pointers(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Byte-level edits of a document.
#[derive(Debug, Clone)]
enum Edit {
    Set(Index, u8),
    Insert(Index, Vec<u8>),
    Token(Index, &'static str),
    Delete(Index, usize),
    Duplicate(Index, usize),
    Truncate(Index),
}

const TOKENS: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "-0",
    "1e999",
    "18446744073709551616",
    "\\u0000",
    "\\ud800",
    "\\u001b]0;pwned\\u0007",
    "\\u202e",
    "\u{1b}[2J",
    "\u{202e}",
    "\u{ff}",
    "\u{c3}(",
    "[[[[[[[[[[[[[[[[[[[[",
    "{\"a\":",
    "\n",
    "\r\n",
    "\t",
    "\u{0}",
];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<Index>(), proptest::sample::select(TOKENS)).prop_map(|(i, t)| Edit::Token(i, t)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(doc: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut doc = doc.to_vec();
    for e in edits {
        let at = |i: &Index, doc: &Vec<u8>| i.index(doc.len() + 1);
        match e {
            Edit::Set(i, b) if !doc.is_empty() => {
                let p = i.index(doc.len());
                doc[p] = *b;
            }
            Edit::Set(..) => {}
            Edit::Insert(i, bytes) => {
                let p = at(i, &doc);
                doc.splice(p..p, bytes.iter().copied());
            }
            Edit::Token(i, t) => {
                let p = at(i, &doc);
                doc.splice(p..p, t.bytes());
            }
            Edit::Delete(i, n) => {
                let p = at(i, &doc);
                let end = (p + n).min(doc.len());
                doc.drain(p..end);
            }
            Edit::Duplicate(i, n) => {
                let p = at(i, &doc);
                let end = (p + n).min(doc.len());
                let copy = doc[p..end].to_vec();
                doc.splice(end..end, copy);
            }
            Edit::Truncate(i) => {
                let p = at(i, &doc);
                doc.truncate(p);
            }
        }
    }
    doc
}

/// Arbitrary bytes, a fixture edited byte by byte, or a fixture with one
/// JSON node replaced by an arbitrary value (a type confusion, a hostile
/// string, a huge number, a missing field).
fn documents(fixtures: &[&str]) -> BoxedStrategy<Vec<u8>> {
    let fixtures: Vec<Vec<u8>> = fixtures.iter().map(|f| f.as_bytes().to_vec()).collect();
    let by_bytes = fixtures.clone();
    let by_node = fixtures.clone();
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..1024),
        1 => proptest::sample::select(fixtures),
        3 => (any::<Index>(), proptest::collection::vec(edit(), 1..6))
            .prop_map(move |(i, edits)| apply(&by_bytes[i.index(by_bytes.len())], &edits)),
        4 => (any::<Index>(), any::<Index>(), json_value(), any::<bool>()).prop_map(move |(i, at, value, remove)| {
            let doc = &by_node[i.index(by_node.len())];
            let Ok(mut root) = serde_json::from_slice::<Value>(doc) else { return doc.clone() };
            let mut all = Vec::new();
            pointers(&root, String::new(), &mut all);
            let target = all[at.index(all.len())].clone();
            if remove && !target.is_empty() {
                let (parent, last) = target.rsplit_once('/').unwrap_or_default();
                match root.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(n) = last.parse::<usize>() {
                            items.remove(n);
                        }
                    }
                    _ => {}
                }
            } else if let Some(node) = root.pointer_mut(&target) {
                *node = value;
            }
            serde_json::to_vec(&root).unwrap()
        }),
    ]
    .boxed()
}

const HTTP_FIXTURES: &[&str] = &[
    r#"{"version":"1.4.0","build":812,"commit":"abc1234","digest":"sha256:feed","deployed_at":"2026-11-24T18:00:00Z","health":"UP"}"#,
    r#"{"git":{"commit":{"id":"4f2a9c1","time":"2026-11-20T10:00:00Z"}},"build":{"version":"2.3.0","time":"2026-11-20T10:05:00Z"},"status":{"status":"UP"}}"#,
    r#""v2.0.1""#,
    "v2.0.1\n",
    r#"{"version":"1.0","health":true}"#,
];

const GITHUB_DEPLOYMENTS: &str = r#"[
 {"id": 103, "sha": "c3c3c3c", "ref": "v1.4.1", "environment": "production", "payload": {"version": "1.4.1"},
  "created_at": "2026-11-24T18:00:00Z", "task": "deploy", "creator": {"login": "bot"}},
 {"id": 102, "sha": "b2b2b2b", "ref": "v1.4.0", "environment": "production", "payload": {},
  "created_at": "2026-11-20T18:00:00Z"},
 {"id": 101, "sha": "a1a1a1a", "ref": "v1.3.2", "environment": "staging", "payload": "not an object",
  "created_at": "2026-11-01T18:00:00Z"}
]"#;

const GITHUB_STATUSES: &[&str] = &[
    r#"[{"id": 2, "state": "success", "created_at": "2026-11-24T18:05:00Z", "environment": "production"},
        {"id": 1, "state": "in_progress", "created_at": "2026-11-24T18:01:00Z"}]"#,
    r#"[{"id": 5, "state": "failure", "created_at": "2026-11-20T18:05:00Z"}]"#,
    r#"[{"id": 7, "state": "inactive", "created_at": "2026-11-21T18:05:00Z"}]"#,
    "[]",
];

const GITLAB_DEPLOYMENTS: &str = r#"[
 {"id": 52, "iid": 12, "ref": "v1.9.1", "sha": "s52", "status": "success",
  "created_at": "2026-11-01T00:00:00.000Z", "updated_at": "2026-11-24T18:00:00.000Z",
  "environment": {"id": 9, "name": "production"},
  "deployable": {"id": 520, "status": "success", "finished_at": "2026-11-24T18:02:00.000Z", "pipeline": {"id": 5200}}},
 {"id": 48, "iid": 8, "ref": "v1.9.0", "sha": "s48", "status": "success",
  "created_at": "2026-11-01T00:00:00.000Z", "updated_at": "2026-11-23T18:00:00.000Z",
  "environment": {"id": 9, "name": "production"}, "deployable": null},
 {"id": 47, "ref": "main", "sha": "s47", "status": "failed", "environment": {"name": "staging"}}
]"#;

const ARGOCD_APPLICATION: &str = r#"{
  "metadata": {"name": "payments-prod", "namespace": "argocd"},
  "spec": {"project": "shop", "source": {"repoURL": "https://git.example/shop/deploy.git", "targetRevision": "main"},
           "syncPolicy": {"automated": {"prune": true}}},
  "status": {
    "sync": {"status": "Synced", "revision": "4f2a9c1e0b7d9a8c"},
    "health": {"status": "Healthy"},
    "summary": {"images": ["registry.example/shop/payments:1.4.0@sha256:feedbeef", "envoy:v1.30"]},
    "history": [
      {"id": 3, "revision": "aaa1111", "deployedAt": "2026-11-01T10:00:00Z"},
      {"id": 10, "revision": "4f2a9c1e0b7d9a8c", "deployedAt": "2026-11-24T18:05:00Z", "initiatedBy": {"automated": true}}
    ],
    "reconciledAt": "2026-11-24T18:06:00Z"
  }
}"#;

const KUBERNETES_DEPLOYMENT: &str = r#"{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "payments", "namespace": "prod", "uid": "0b9c5d3e", "generation": 4,
               "annotations": {"deployment.kubernetes.io/revision": "7"}},
  "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "payments"}},
           "template": {"spec": {"containers": [
             {"name": "app", "image": "registry.example/shop/payments:1.4.0@sha256:4f2a9c1e0b7d9a8c0011"},
             {"name": "envoy", "image": "envoyproxy/envoy:v1.30.1"}]}},
           "progressDeadlineSeconds": 600},
  "status": {"observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
             "conditions": [{"type": "Available", "status": "True"},
                            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}
}"#;

const PROMETHEUS_RESPONSES: &[&str] = &[
    r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"api"},"value":[1714557600.5,"0.25"]}]}}"#,
    r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1714557600,"NaN"]},{"metric":{},"value":[1,"+Inf"]}]}}"#,
    r#"{"status":"success","data":{"resultType":"scalar","result":[1714557600.5,"42.5"]}}"#,
    r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
    r#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#,
];

fn fields() -> BoxedStrategy<Fields> {
    let pointer = prop_oneof![
        3 => proptest::sample::select(&["/version", "/build", "/commit", "/digest", "/deployed_at", "/health",
            "/build/version", "/git/commit/id", "/status", "/status/status", "", "/", "/~", "/~2", "/0", "//"][..])
            .prop_map(String::from),
        1 => text(),
    ];
    (
        pointer.clone(),
        proptest::option::of(pointer.clone()),
        proptest::option::of(pointer.clone()),
        proptest::option::of(pointer.clone()),
        proptest::option::of(pointer.clone()),
        proptest::option::of(pointer),
    )
        .prop_map(|(version, build, commit, digest, deployed_at, health)| Fields {
            version,
            build,
            commit,
            digest,
            deployed_at,
            health,
        })
        .boxed()
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        3 => proptest::sample::select(&["application/json", "application/json; charset=utf-8", "text/plain",
            "text/plain; charset=utf-8", "text/html", "application/octet-stream", "application/problem+json", ""][..])
            .prop_map(String::from),
        1 => text(),
    ])
}

// ------------------------------------------------------------------ decoders

proptest! {
    #![proptest_config(cfg(1000))]

    #[test]
    fn http_decode_never_panics(body in documents(HTTP_FIXTURES), ct in content_type(), fields in fields()) {
        let result = sources::http::decode(&body, ct.as_deref(), &fields);
        if fields_clean(&fields) {
            assert_clean_result(&result);
        }
        assert_clean_result(&sources::http::decode(&body, ct.as_deref(), &Fields::default()));
    }

    #[test]
    fn command_decode_output_never_panics(stdout in documents(HTTP_FIXTURES), fields in proptest::option::of(fields())) {
        let result = command::decode_output(&stdout, fields.as_ref());
        if fields.as_ref().is_none_or(fields_clean) {
            assert_clean_result(&result);
        }
    }

    #[test]
    fn argocd_decode_never_panics(
        body in documents(&[ARGOCD_APPLICATION]),
        revision in any::<bool>(),
        image in proptest::option::of(text()),
    ) {
        let options = argocd::DecodeOptions {
            version_from: if revision { argocd::VersionFrom::Revision } else { argocd::VersionFrom::Image },
            image,
        };
        let result = argocd::decode(&body, &options);
        if options.image.as_deref().is_none_or(is_clean) {
            assert_clean_result(&result);
        }
    }

    #[test]
    fn kubernetes_decode_body_never_panics(
        body in documents(&[KUBERNETES_DEPLOYMENT]),
        container in proptest::option::of(prop_oneof![Just("app".to_string()), Just("envoy".to_string()), text()]),
    ) {
        let result = kubernetes::decode_body(&body, container.as_deref());
        if container.as_deref().is_none_or(is_clean) {
            assert_clean_result(&result);
        }
    }

    #[test]
    fn prometheus_parse_response_never_panics(body in documents(PROMETHEUS_RESPONSES)) {
        if let Err(e) = prometheus::parse_response(&body) {
            assert_clean_error(&e);
        }
    }

    #[test]
    fn gitlab_deployments_never_panic(
        body in documents(&[GITLAB_DEPLOYMENTS]),
        env in prop_oneof![Just("production".to_string()), text()],
        sha in any::<bool>(),
    ) {
        let version_from = if sha { gitlab::VersionFrom::Sha } else { gitlab::VersionFrom::Ref };
        match gitlab::decode_deployments(&body) {
            Ok(deployments) => {
                if let Some(current) = gitlab::newest_success(&deployments, &env) {
                    assert_clean_reading(&gitlab::reading(current, version_from));
                    if let Some(previous) = gitlab::previous_success(&deployments, &env, current, version_from) {
                        assert_clean("previous version", &previous.version);
                    }
                }
            }
            Err(e) => assert_clean_error(&e),
        }
        if let Some(message) = gitlab::error_message(&body) {
            assert_clean("gitlab error message", &message);
        }
    }

    /// The deployments, then the statuses `decide` asks for, as the source
    /// reads them: every request is for a new position, so it ends.
    #[test]
    fn github_deployments_and_statuses_never_panic(
        deployments in documents(&[GITHUB_DEPLOYMENTS]),
        statuses in proptest::collection::vec(documents(GITHUB_STATUSES), 1..4),
        env in prop_oneof![Just("production".to_string()), text()],
        version_from in prop_oneof![
            Just(github::VersionFrom::Ref),
            Just(github::VersionFrom::Sha),
            Just(github::VersionFrom::Pointer("/version".into())),
            text().prop_map(|p| github::VersionFrom::Pointer(format!("/{p}"))),
        ],
    ) {
        let pages: Vec<_> = statuses.iter().map(|b| github::decode_statuses(b)).collect();
        for page in &pages {
            if let Err(e) = page {
                assert_clean_error(e);
            }
        }
        let deployments = match github::decode_deployments(&deployments) {
            Ok(d) => github::newest_first(d, &env),
            Err(e) => {
                assert_clean_error(&e);
                return Ok(());
            }
        };
        let mut latest: Vec<Option<github::DeploymentStatus>> = Vec::new();
        for _ in 0..=deployments.len() + 1 {
            let i = match github::decide(&deployments, &latest, &version_from) {
                github::Decision::Done(result) => {
                    assert_clean_result(&result);
                    return Ok(());
                }
                github::Decision::NeedStatuses(i) | github::Decision::NeedOlder(i, _) => i,
            };
            prop_assert!(i >= latest.len() && i < deployments.len(), "asked for position {i} with {} known of {}", latest.len(), deployments.len());
            latest.resize(i, None);
            let status = pages[i % pages.len()].clone().ok().and_then(github::latest_status);
            latest.push(status);
        }
        prop_assert!(false, "decide did not settle after {} steps", deployments.len() + 2);
    }

    #[test]
    fn github_small_parsers_never_panic(link in text(), payload in json_value(), pointer in text()) {
        let _ = github::next_link(&link);
        if let Some(v) = github::payload_value(&payload, &format!("/{pointer}")) {
            assert_clean("payload value", &v);
        }
    }

    #[test]
    fn image_refs_never_panic(raw in prop_oneof![text(), "[a-z./:@0-9-]{0,60}"], wanted in text()) {
        let image = kubernetes::ImageRef::parse(&raw);
        let _ = image.is_named(&wanted);
        match image.version() {
            Ok(v) => assert_clean("image version", &v),
            Err(e) => assert_clean("image error", &e),
        }
    }

    /// Error responses: any status, headers and body.
    #[test]
    fn error_responses_never_panic(
        code in 100u16..600,
        retry_after in proptest::option::of(prop_oneof![
            Just("5".to_string()), Just("18446744073709551616".to_string()), Just("-1".to_string()),
            Just("Wed, 21 Oct 2015 07:28:00 GMT".to_string()), Just("Fri, 31 Dec 9999 23:59:59 GMT".to_string()),
            "[ -~]{0,40}",
        ]),
        remaining in proptest::option::of("[ -~]{0,24}"),
        body in documents(&[r#"{"message":"API rate limit exceeded","error":"permission denied","code":7}"#,
            r#"{"kind":"Status","status":"Failure","message":"deployments.apps \"x\" not found","reason":"NotFound","code":404}"#]),
        name in text(),
    ) {
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in [("retry-after", &retry_after), ("x-ratelimit-remaining", &remaining)] {
            if let Some(v) = v.as_deref().and_then(|v| reqwest::header::HeaderValue::from_str(v).ok()) {
                headers.insert(k, v);
            }
        }
        let resp = sources::fetch::Response {
            status: reqwest::StatusCode::from_u16(code).unwrap(),
            content_type: Some("application/json".into()),
            headers,
            body,
        };
        let _ = sources::fetch::retry_after(&resp, jiff::Timestamp::now());
        assert_clean_error(&sources::fetch::classify_status(&resp, None));
        assert_clean_error(&sources::fetch::status_error(&resp));
        // `name` comes from the config (an app, a deployment): quoted as is.
        let argo = argocd::classify_error(&resp, &name, Some("shop"));
        let kube = kubernetes::classify_error(&resp, "prod", &name, jiff::Timestamp::now());
        if is_clean(&name) {
            assert_clean_error(&argo);
            assert_clean_error(&kube);
        }
    }
}

/// Inputs that break naive parsers: deep nesting, huge numbers, long strings.
#[test]
fn pathological_documents_are_errors_or_readings() {
    let deep_array = "[".repeat(100_000);
    let deep_object = "{\"a\":".repeat(50_000);
    let long_string = format!("{{\"version\":\"{}\"}}", "9".repeat(1_000_000));
    let long_pointer = format!("/{}", "a/".repeat(10_000));
    let cases: Vec<Vec<u8>> = vec![
        deep_array.clone().into_bytes(),
        deep_object.into_bytes(),
        long_string.into_bytes(),
        br#"{"version":1e999}"#.to_vec(),
        br#"{"version":-0.0,"build":18446744073709551616}"#.to_vec(),
        b"\xef\xbb\xbf{\"version\":\"1.0\"}".to_vec(),
        vec![b' '; 100_000],
        vec![0u8; 10_000],
    ];
    let fields = Fields { version: long_pointer, ..Fields::default() };
    for body in &cases {
        for ct in [None, Some("application/json"), Some("text/plain")] {
            assert_clean_result(&sources::http::decode(body, ct, &Fields::default()));
            assert_clean_result(&sources::http::decode(body, ct, &fields));
        }
        assert_clean_result(&command::decode_output(body, None));
        assert_clean_result(&argocd::decode(body, &argocd::DecodeOptions::default()));
        assert_clean_result(&kubernetes::decode_body(body, None));
        let _ = prometheus::parse_response(body);
        let _ = github::decode_deployments(body);
        let _ = github::decode_statuses(body);
        let _ = gitlab::decode_deployments(body);
        let _ = gitlab::error_message(body);
    }
}

// ------------------------------------------------------- sanitize, versions

proptest! {
    #![proptest_config(cfg(1000))]

    #[test]
    fn clean_is_clean_bounded_and_idempotent(s in prop_oneof![any::<String>(), text(),
        proptest::collection::vec(any::<u8>(), 0..400).prop_map(|b| String::from_utf8_lossy(&b).into_owned())]) {
        let once = flightdeck::sanitize::clean(&s);
        assert_clean("clean", &once);
        prop_assert!(once.chars().count() <= flightdeck::sanitize::MAX_LEN + 1);
        prop_assert_eq!(flightdeck::sanitize::clean(&once), once.clone(), "clean is idempotent");
        let short = flightdeck::sanitize::clean_to(&s, 8);
        assert_clean("clean_to", &short);
        prop_assert!(short.chars().count() <= 9);
    }

    #[test]
    fn version_comparison_is_consistent(
        a in prop_oneof![text(), r"[vV]?[0-9]{1,21}(\.[0-9]{1,21}){0,5}(-[0-9A-Za-z.-]{0,12})?(\+[0-9A-Za-z.]{0,8})?"],
        b in prop_oneof![text(), r"[vV]?[0-9]{1,3}(\.[0-9]{1,3}){0,3}(-[0-9a-z.]{0,6})?"],
        c in r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}(-[0-9a-z.]{0,6})?",
    ) {
        use flightdeck::model::version::{compare, same};
        use std::cmp::Ordering::*;
        prop_assert_eq!(compare(&a, &a), Some(Equal), "a version equals itself: {:?}", a);
        prop_assert_eq!(compare(&a, &b), compare(&b, &a).map(std::cmp::Ordering::reverse), "{:?} vs {:?}", a, b);
        prop_assert_eq!(same(&a, &b), compare(&a, &b) == Some(Equal));
        // Where all three compare, the order is transitive.
        if let (Some(ab), Some(bc), Some(ac)) = (compare(&a, &b), compare(&b, &c), compare(&a, &c))
            && ab != Greater
            && bc != Greater
        {
            prop_assert!(ac != Greater, "{:?} <= {:?} <= {:?} but not {:?} <= {:?}", a, b, c, a, c);
        }
    }
}

// --------------------------------------------------------------- journals

fn observation_line(n: u32, version: &str) -> Vec<u8> {
    let event = flightdeck::journal::ObservationEvent {
        at: jiff::Timestamp::from_second(1_800_000_000 + i64::from(n)).unwrap(),
        service: "payments".into(),
        environment: "prod".into(),
        source: "endpoints".into(),
        old: Some("1.3.2".into()),
        new: version.into(),
        build: Some("812".into()),
        old_build: None,
    };
    serde_json::to_vec(&event).unwrap()
}

fn release_line(note: &str) -> (String, Vec<u8>) {
    use flightdeck::journal::release::{ReleaseAction, ReleaseEvent};
    let event = ReleaseEvent::new(
        "tester",
        jiff::Timestamp::from_second(1_800_000_000).unwrap(),
        ReleaseAction::Tick { item: "scope-frozen".into(), note: Some(note.into()) },
    );
    (event.id.clone(), serde_json::to_vec(&event).unwrap())
}

/// A journal line: intact (kept), edited (maybe kept), or garbage.
#[derive(Debug, Clone)]
enum Line {
    Valid(String),
    Edited(String, Vec<Edit>),
    Garbage(Vec<u8>),
}

fn journal_lines() -> impl Strategy<Value = (Vec<Line>, bool)> {
    let line = prop_oneof![
        2 => text().prop_map(Line::Valid),
        2 => (text(), proptest::collection::vec(edit(), 1..4)).prop_map(|(t, e)| Line::Edited(t, e)),
        1 => proptest::collection::vec(any::<u8>(), 0..200).prop_map(Line::Garbage),
    ];
    (proptest::collection::vec(line, 0..24), any::<bool>())
}

proptest! {
    #![proptest_config(cfg(256))]

    /// Every intact line is read, in order, whatever surrounds it; a last
    /// line without its newline (torn) is not.
    #[test]
    fn observation_journal_reads_whatever_is_on_disk((lines, torn) in journal_lines()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("observations.jsonl");
        let mut bytes = Vec::new();
        let mut intact = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            let last = n + 1 == lines.len();
            let body = match line {
                Line::Valid(v) => {
                    if !(last && torn) {
                        intact.push(flightdeck::sanitize::clean(v));
                    }
                    observation_line(n as u32, &flightdeck::sanitize::clean(v))
                }
                Line::Edited(v, edits) => apply(&observation_line(n as u32, v), edits),
                Line::Garbage(g) => g.clone(),
            };
            bytes.extend_from_slice(&body);
            if !(last && torn) {
                bytes.push(b'\n');
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let (records, report) = flightdeck::journal::read::<flightdeck::journal::ObservationEvent>(&path).unwrap();
        // The intact lines are a subsequence of what was read.
        let mut want = intact.iter().peekable();
        for r in &records {
            if want.peek().is_some_and(|w| **w == r.new) {
                want.next();
            }
        }
        prop_assert!(want.peek().is_none(), "intact lines lost: read {:?}, wanted {:?}", records.iter().map(|r| &r.new).collect::<Vec<_>>(), intact);
        prop_assert!(records.len() + report.skipped <= bytes.split(|&b| b == b'\n').count());
        // Opening for append (as the cockpit does) reads the same.
        let (_journal, again, _) = flightdeck::journal::Jsonl::open::<flightdeck::journal::ObservationEvent>(&path).unwrap();
        prop_assert_eq!(again, records);
    }

    #[test]
    fn release_journal_loads_and_polls_whatever_is_on_disk((lines, torn) in journal_lines(), more in proptest::collection::vec(any::<u8>(), 0..300)) {
        use flightdeck::journal::release::{EventStore, FileStore};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("releases/r.jsonl");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut bytes = Vec::new();
        let mut intact = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            let last = n + 1 == lines.len();
            let body = match line {
                Line::Valid(note) => {
                    let (id, body) = release_line(note);
                    if !(last && torn) {
                        intact.push(id);
                    }
                    body
                }
                Line::Edited(note, edits) => apply(&release_line(note).1, edits),
                Line::Garbage(g) => g.clone(),
            };
            bytes.extend_from_slice(&body);
            if !(last && torn) {
                bytes.push(b'\n');
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let mut store = FileStore::open(&path).unwrap();
        let events = store.load().unwrap();
        let mut want = intact.iter().peekable();
        for e in &events {
            if want.peek().is_some_and(|w| **w == e.id) {
                want.next();
            }
        }
        prop_assert!(want.peek().is_none(), "intact events lost: {} of {} read", events.len(), intact.len());
        // Someone appends garbage (or finishes the torn line): poll copes.
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&more).unwrap();
        file.write_all(b"\n").unwrap();
        drop(file);
        let _ = store.poll().unwrap();
        prop_assert!(store.poll().unwrap().is_empty(), "a second poll reads nothing new");
    }
}

// ------------------------------------------------------------------ config

const CONFIG_KEYS: &[&str] = &[
    "environments",
    "services",
    "release",
    "sources",
    "poller",
    "data_dir",
    "log",
    "operator",
    "rollback",
    "name",
    "stale_after",
    "owner",
    "repo",
    "rollback",
    "kind",
    "window",
    "start",
    "end",
    "template",
    "blackouts",
    "reason",
    "targets",
    "migrations",
    "every",
    "timeout",
    "evidence",
    "url",
    "fields",
    "version",
    "build",
    "commit",
    "health",
    "program",
    "args",
    "env",
    "token_env",
    "api_url",
    "query",
    "queries",
    "namespace",
    "container",
    "version_from",
    "image",
    "app",
    "project",
    "concurrency",
    "max_backoff",
    "known_good_after",
    "baseline",
    "triggers",
    "metric",
    "factor",
    "min",
    "above",
    "repos",
    "environments_map",
    "context",
    "kubeconfig",
    "payments",
    "prod",
];

const CONFIG_WORDS: &[&str] = &[
    "http",
    "github",
    "gitlab",
    "argocd",
    "kubernetes",
    "prometheus",
    "command",
    "running",
    "recorded",
    "controller",
    "declared",
    "patch",
    "minor",
    "major",
    "hotfix",
    "window",
    "1s",
    "0s",
    "-5s",
    "99ms",
    "100ms",
    "1000000000000d",
    "30d",
    "1h30m",
    "10",
    "soon",
    "http://127.0.0.1:9/{service}/{env}",
    "http://[::1",
    "https://{service}.{env}.example/version",
    "{service}",
    "{env}",
    "{nope}",
    "/version",
    "version",
    "~",
    "acme/{service}",
    "payments",
    "prod",
    "dev",
    "",
    " ",
    "\u{1b}[2J",
    "\u{202e}",
    "测试版🚀",
    "2026-11-24T18:00:00Z",
    "2026-13-45T99:00:00Z",
    "/usr/bin/env",
    "/nonexistent/program",
    "none",
    "reversible",
    "irreversible",
    "ref",
    "sha",
    "image",
    "revision",
    "UP",
];

fn toml_value() -> BoxedStrategy<toml::Value> {
    let datetime: toml::value::Datetime = "2026-11-24T18:00:00Z".parse().unwrap();
    let leaf = prop_oneof![
        4 => proptest::sample::select(CONFIG_WORDS).prop_map(|s| toml::Value::String(s.into())),
        1 => any::<String>().prop_map(toml::Value::String),
        1 => any::<i64>().prop_map(toml::Value::Integer),
        1 => prop_oneof![Just(0i64), Just(-1), Just(1), Just(i64::MAX)].prop_map(toml::Value::Integer),
        1 => any::<f64>().prop_map(toml::Value::Float),
        1 => any::<bool>().prop_map(toml::Value::Boolean),
        1 => Just(toml::Value::Datetime(datetime)),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(toml::Value::Array),
            proptest::collection::vec((proptest::sample::select(CONFIG_KEYS), inner), 0..6).prop_map(|entries| {
                toml::Value::Table(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
    .boxed()
}

/// Paths (keys and indices) to every node of a TOML value.
fn toml_paths(value: &toml::Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let mut p = at.clone();
                p.push(k.clone());
                toml_paths(v, p, out);
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let mut p = at.clone();
                p.push(i.to_string());
                toml_paths(v, p, out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn toml_node<'a>(value: &'a mut toml::Value, path: &[String]) -> Option<&'a mut toml::Value> {
    let Some((first, rest)) = path.split_first() else { return Some(value) };
    let next = match value {
        toml::Value::Table(t) => t.get_mut(first)?,
        toml::Value::Array(a) => a.get_mut(first.parse::<usize>().ok()?)?,
        _ => return None,
    };
    toml_node(next, rest)
}

fn config_fixtures() -> Vec<String> {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml")).unwrap();
    let small = r#"
[[environments]]
name = "staging"
[[environments]]
name = "prod"
stale_after = "30d"
[[services]]
name = "payments"
[release]
name = "2026.11.1"
kind = "patch"
window = { start = "2026-11-24T18:00:00Z", end = "2026-11-24T20:00:00Z" }
[release.targets]
payments = "1.4.1"
[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
every = "5s"
timeout = "1s"
[poller]
concurrency = 4
max_backoff = "10s"
"#;
    vec![example, small.to_string()]
}

/// A skeleton that passes the outer checks, with sources of every kind
/// given arbitrary options: gets past serde into each kind's validation.
fn config_with_wild_sources() -> impl Strategy<Value = String> {
    let source = (
        proptest::sample::select(
            &["http", "github", "gitlab", "argocd", "kubernetes", "prometheus", "command", "nope"][..],
        ),
        proptest::collection::vec((proptest::sample::select(CONFIG_KEYS), toml_value()), 0..6),
    );
    proptest::collection::vec(source, 1..4).prop_map(|sources| {
        let mut root: toml::Table = toml::from_str(&config_fixtures()[1]).unwrap();
        let list = sources
            .into_iter()
            .enumerate()
            .map(|(i, (kind, options))| {
                let mut t = toml::Table::new();
                t.insert("name".into(), toml::Value::String(format!("s{i}")));
                t.insert("kind".into(), toml::Value::String(kind.into()));
                for (k, v) in options {
                    if k != "name" && k != "kind" {
                        t.insert(k.into(), v);
                    }
                }
                toml::Value::Table(t)
            })
            .collect();
        root.insert("sources".into(), toml::Value::Array(list));
        toml::to_string(&root).unwrap_or_default()
    })
}

fn config_texts() -> BoxedStrategy<String> {
    let fixtures = config_fixtures();
    let by_bytes = fixtures.clone();
    let by_node = fixtures.clone();
    prop_oneof![
        1 => any::<String>(),
        1 => r#"[\[\]a-z_ ="'{}.,\n0-9#:-]{0,300}"#,
        1 => proptest::sample::select(fixtures),
        2 => (any::<Index>(), proptest::collection::vec(edit(), 1..6))
            .prop_map(move |(i, edits)| String::from_utf8_lossy(&apply(by_bytes[i.index(by_bytes.len())].as_bytes(), &edits)).into_owned()),
        3 => (any::<Index>(), any::<Index>(), toml_value()).prop_map(move |(i, at, value)| {
            let mut root: toml::Value = toml::Value::Table(toml::from_str(&by_node[i.index(by_node.len())]).unwrap());
            let mut paths = Vec::new();
            toml_paths(&root, Vec::new(), &mut paths);
            if let Some(node) = toml_node(&mut root, &paths[at.index(paths.len())]) {
                *node = value;
            }
            toml::to_string(&root).unwrap_or_default()
        }),
        2 => proptest::collection::vec((proptest::sample::select(CONFIG_KEYS), toml_value()), 0..6).prop_map(|entries| {
            let t: toml::Table = entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            toml::to_string(&t).unwrap_or_default()
        }),
        2 => config_with_wild_sources(),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(cfg(512))]

    #[test]
    fn config_loader_never_panics(text in config_texts()) {
        match flightdeck::setup::from_toml_str(&text, "fuzz.toml") {
            Ok(_) => {}
            Err(errors) => {
                prop_assert!(!errors.0.is_empty(), "an error without a message");
                prop_assert!(errors.0.iter().all(|e| !e.message.is_empty()), "an empty message: {:?}", errors);
                let _ = errors.to_string();
            }
        }
    }
}

#[test]
fn the_fixtures_decode() {
    // The fixtures are meaningful: unmutated, each decodes to a reading.
    let actuator = Fields { version: "/build/version".into(), ..Fields::default() };
    for f in HTTP_FIXTURES {
        let decoded = sources::http::decode(f.as_bytes(), None, &Fields::default())
            .or_else(|_| sources::http::decode(f.as_bytes(), None, &actuator));
        assert!(decoded.is_ok(), "{f}");
    }
    assert!(
        argocd::decode(
            ARGOCD_APPLICATION.as_bytes(),
            &argocd::DecodeOptions { image: Some("payments".into()), ..Default::default() }
        )
        .is_ok()
    );
    assert!(kubernetes::decode_body(KUBERNETES_DEPLOYMENT.as_bytes(), Some("app")).is_ok());
    assert!(prometheus::parse_response(PROMETHEUS_RESPONSES[0].as_bytes()).is_ok());
    assert_eq!(github::decode_deployments(GITHUB_DEPLOYMENTS.as_bytes()).unwrap().len(), 3);
    assert!(GITHUB_STATUSES.iter().all(|s| github::decode_statuses(s.as_bytes()).is_ok()));
    let deployments = gitlab::decode_deployments(GITLAB_DEPLOYMENTS.as_bytes()).unwrap();
    assert_eq!(gitlab::newest_success(&deployments, "production").map(|d| d.id), Some(52));
    for text in config_fixtures() {
        flightdeck::setup::from_toml_str(&text, "fixture.toml").unwrap_or_else(|e| panic!("{e}"));
    }
}
