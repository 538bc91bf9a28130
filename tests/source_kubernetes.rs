//! The `kubernetes` source against a fake API server on loopback, reached
//! through the `kube` crate and a kubeconfig file each test writes (cluster
//! `http://127.0.0.1:PORT`, a user with a token, selected by `context`).
//!
//! The fake serves `GET /apis/apps/v1/namespaces/{ns}/deployments/{name}`
//! and `GET /apis/apps/v1/namespaces/{ns}/replicasets?labelSelector=…` like
//! the API server: the object or list (ReplicaSets filtered by the selector),
//! or a `Status` object for errors, and 401 for a wrong token. Every request
//! is recorded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flightdeck::model::Health;
use flightdeck::model::rollback::Artifact;
use flightdeck::poller::{SourceUpdate, sweep_once};
use flightdeck::sources::{FetchError, HttpContext};
use serde_json::{Value, json};

/// The token the kubeconfig's user carries.
const KUBE_TOKEN: &str = "kube-test-token-5f1c";

#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    query: Option<String>,
    authorization: Option<String>,
}

type Answer = (StatusCode, Vec<(&'static str, String)>, String);

struct FakeApiServer {
    /// (namespace, name) → answer. Anything else is NotFound.
    answers: HashMap<(String, String), Answer>,
    /// namespace → its ReplicaSets (listed by label selector), or an error
    /// answer. Unset: an empty list.
    replicasets: HashMap<String, Result<Vec<Value>, Answer>>,
    token: String,
    recorded: Mutex<Vec<Recorded>>,
}

impl FakeApiServer {
    fn new() -> FakeApiServer {
        FakeApiServer {
            answers: HashMap::new(),
            replicasets: HashMap::new(),
            token: KUBE_TOKEN.into(),
            recorded: Mutex::new(Vec::new()),
        }
    }

    fn replicasets(mut self, namespace: &str, items: Vec<Value>) -> FakeApiServer {
        self.replicasets.insert(namespace.into(), Ok(items));
        self
    }

    fn replicasets_fail(mut self, namespace: &str, status: StatusCode, body: String) -> FakeApiServer {
        self.replicasets.insert(namespace.into(), Err((status, Vec::new(), body)));
        self
    }

    fn deployment(self, namespace: &str, name: &str, body: &Value) -> FakeApiServer {
        self.answer(namespace, name, StatusCode::OK, &[], body.to_string())
    }

    fn answer(
        mut self,
        namespace: &str,
        name: &str,
        status: StatusCode,
        headers: &[(&'static str, &str)],
        body: String,
    ) -> FakeApiServer {
        let headers = headers.iter().map(|(k, v)| (*k, v.to_string())).collect();
        self.answers.insert((namespace.into(), name.into()), (status, headers, body));
        self
    }
}

fn status_object(code: u16, reason: &str, message: &str) -> String {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
    .to_string()
}

async fn get_deployment(
    State(fake): State<Arc<FakeApiServer>>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(String::from);
    fake.recorded.lock().unwrap().push(Recorded {
        path: format!("/apis/apps/v1/namespaces/{namespace}/deployments/{name}"),
        query: None,
        authorization: authorization.clone(),
    });
    let json_type = [(header::CONTENT_TYPE, "application/json")];
    if authorization.as_deref() != Some(&format!("Bearer {}", fake.token)) {
        return (StatusCode::UNAUTHORIZED, json_type, status_object(401, "Unauthorized", "Unauthorized"))
            .into_response();
    }
    match fake.answers.get(&(namespace.clone(), name.clone())) {
        Some((status, extra, body)) => {
            let mut resp = (*status, json_type, body.clone()).into_response();
            for (k, v) in extra {
                resp.headers_mut().insert(HeaderName::from_static(k), v.parse().unwrap());
            }
            resp
        }
        None => (
            StatusCode::NOT_FOUND,
            json_type,
            status_object(404, "NotFound", &format!("deployments.apps \"{name}\" not found")),
        )
            .into_response(),
    }
}

/// The `labelSelector` of a list request as (key, value) pairs (`k=v,k2=v2`).
fn label_selector(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "labelSelector")
        .map(|(_, v)| {
            v.split(',').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
        })
        .unwrap_or_default()
}

async fn list_replicasets(
    State(fake): State<Arc<FakeApiServer>>,
    Path(namespace): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(String::from);
    fake.recorded.lock().unwrap().push(Recorded {
        path: format!("/apis/apps/v1/namespaces/{namespace}/replicasets"),
        query: query.clone(),
        authorization: authorization.clone(),
    });
    let json_type = [(header::CONTENT_TYPE, "application/json")];
    if authorization.as_deref() != Some(&format!("Bearer {}", fake.token)) {
        return (StatusCode::UNAUTHORIZED, json_type, status_object(401, "Unauthorized", "Unauthorized"))
            .into_response();
    }
    let items = match fake.replicasets.get(&namespace) {
        Some(Err((status, _, body))) => return (*status, json_type, body.clone()).into_response(),
        Some(Ok(items)) => items.clone(),
        None => Vec::new(),
    };
    let selector = label_selector(query.as_deref().unwrap_or_default());
    let items: Vec<Value> = items
        .into_iter()
        .filter(|rs| selector.iter().all(|(k, v)| rs["metadata"]["labels"][k].as_str() == Some(v.as_str())))
        .collect();
    let body = json!({"kind": "ReplicaSetList", "apiVersion": "apps/v1",
                      "metadata": {"resourceVersion": "99900"}, "items": items});
    (StatusCode::OK, json_type, body.to_string()).into_response()
}

async fn serve(fake: FakeApiServer) -> (SocketAddr, Arc<FakeApiServer>) {
    let fake = Arc::new(fake);
    let app = Router::new()
        .route("/apis/apps/v1/namespaces/{namespace}/deployments/{name}", get(get_deployment))
        .route("/apis/apps/v1/namespaces/{namespace}/replicasets", get(list_replicasets))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("test server");
    });
    (addr, fake)
}

/// Write a kubeconfig with two contexts: `loopback` (the fake server, with
/// a token) and `elsewhere` (never used).
fn write_kubeconfig(dir: &tempfile::TempDir, addr: SocketAddr) -> String {
    write_kubeconfig_with(dir, addr, &format!("    token: {KUBE_TOKEN}\n"))
}

/// As [`write_kubeconfig`], the user's credentials given as its `user:` mapping's lines.
fn write_kubeconfig_with(dir: &tempfile::TempDir, addr: SocketAddr, credentials: &str) -> String {
    let text = format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: loopback-cluster
  cluster:
    server: http://{addr}
- name: other-cluster
  cluster:
    server: https://kubernetes.invalid:6443
contexts:
- name: loopback
  context:
    cluster: loopback-cluster
    user: tester
    namespace: default
- name: elsewhere
  context:
    cluster: other-cluster
    user: tester
current-context: elsewhere
users:
- name: tester
  user:
{credentials}"#
    );
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, text).expect("write kubeconfig");
    path.display().to_string()
}

fn config_text(kubeconfig: &str, envs: &[&str], extra: &str) -> String {
    let environments: String = envs.iter().map(|e| format!("[[environments]]\nname = \"{e}\"\n")).collect();
    format!(
        r#"
{environments}
[[services]]
name = "payments"

[[sources]]
name = "cluster"
kind = "kubernetes"
kubeconfig = "{kubeconfig}"
{extra}
"#
    )
}

async fn sweep(text: &str) -> Vec<SourceUpdate> {
    let config = flightdeck::setup::from_toml_str(text, "test").unwrap_or_else(|e| panic!("config: {e}"));
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let ctx = HttpContext::new().expect("http client");
    let mut updates = sweep_once(&active, config.poller, &ctx, |_, _| {}).await;
    updates.sort_by_key(|u| u.cell.env);
    updates
}

/// The cockpit's poller on `text`'s sources, on a poller thread of its own.
fn poll(text: &str) -> (flightdeck::poller::Poller, tokio::sync::mpsc::Receiver<SourceUpdate>) {
    let config = flightdeck::setup::from_toml_str(text, "test").unwrap_or_else(|e| panic!("config: {e}"));
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let thread = flightdeck::poller::PollerThread::start().expect("the poller's thread");
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let poller = flightdeck::poller::Poller::spawn(&thread, active, config.poller, HttpContext::new().unwrap(), tx);
    (poller, rx)
}

/// Serve `fake`, read the cells of `envs` through context `loopback`.
async fn read(fake: FakeApiServer, envs: &[&str], extra: &str) -> (Vec<SourceUpdate>, Arc<FakeApiServer>) {
    let (addr, fake) = serve(fake).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = write_kubeconfig(&dir, addr);
    let updates = sweep(&config_text(&kubeconfig, envs, &format!("context = \"loopback\"\n{extra}"))).await;
    assert_eq!(updates.len(), envs.len());
    (updates, fake)
}

fn recorded(fake: &FakeApiServer) -> Vec<Recorded> {
    fake.recorded.lock().unwrap().clone()
}

/// A Deployment as the API server returns it (trimmed), rollout complete.
fn deployment(namespace: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "payments", "namespace": namespace, "uid": "0b9c5d3e", "generation": 4,
            "resourceVersion": "99812",
            "annotations": {"deployment.kubernetes.io/revision": "7"}
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "payments"}},
            "template": {
                "metadata": {"labels": {"app": "payments"}},
                "spec": {"containers": [
                    {"name": "app", "image": "registry.example/shop/payments:1.4.0@sha256:4f2a9c1e0b7d9a8c0011"},
                    {"name": "envoy", "image": "envoyproxy/envoy:v1.30.1"}
                ]}
            },
            "progressDeadlineSeconds": 600
        },
        "status": {
            "observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
            "availableReplicas": 3,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": "ReplicaSet \"payments-7d9f\" has successfully progressed."}
            ]
        }
    })
}

/// A ReplicaSet of the `payments` Deployment (uid `0b9c5d3e`) at `revision`
/// whose `app` container runs `image`, as the API server lists it (trimmed).
fn replicaset(namespace: &str, hash: &str, revision: u64, image: &str) -> Value {
    json!({
        "metadata": {
            "name": format!("payments-{hash}"), "namespace": namespace, "uid": format!("rs-{hash}"),
            "labels": {"app": "payments", "pod-template-hash": hash},
            "annotations": {"deployment.kubernetes.io/desired-replicas": "3",
                            "deployment.kubernetes.io/max-replicas": "4",
                            "deployment.kubernetes.io/revision": revision.to_string()},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "payments",
                                 "uid": "0b9c5d3e", "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "payments", "pod-template-hash": hash}},
            "template": {
                "metadata": {"labels": {"app": "payments", "pod-template-hash": hash}},
                "spec": {"containers": [
                    {"name": "app", "image": image},
                    {"name": "envoy", "image": "envoyproxy/envoy:v1.30.1"}
                ]}
            }
        },
        "status": {"replicas": 0, "observedGeneration": 2}
    })
}

/// The history of `payments` in `namespace`: revision 7 runs (1.4.0), 6
/// was only a config change, 5 ran 1.3.2 pinned by digest; plus a
/// ReplicaSet of another Deployment with the same labels, and one of
/// another app.
fn history(namespace: &str) -> Vec<Value> {
    let mut foreign = replicaset(namespace, "f00d", 6, "registry.example/shop/payments:0.9.0");
    foreign["metadata"]["ownerReferences"][0]["uid"] = "another-deployment".into();
    let mut other_app = replicaset(namespace, "beef", 6, "registry.example/shop/ledger:3.0.0");
    other_app["metadata"]["labels"]["app"] = "ledger".into();
    vec![
        replicaset(namespace, "7d9f", 7, "registry.example/shop/payments:1.4.0@sha256:4f2a9c1e0b7d9a8c0011"),
        replicaset(namespace, "66aa", 6, "registry.example/shop/payments:1.4.0@sha256:4f2a9c1e0b7d9a8c0011"),
        replicaset(namespace, "55bb", 5, "registry.example/shop/payments:1.3.2@sha256:9e8d7c6b5a4f"),
        replicaset(namespace, "44cc", 4, "registry.example/shop/payments:1.3.1"),
        foreign,
        other_app,
    ]
}

#[tokio::test]
async fn image_tag_digest_and_rollout_through_a_kubeconfig_context() {
    let fake = FakeApiServer::new().deployment("prod", "payments", &deployment("prod"));
    let (updates, fake) = read(fake, &["prod"], "").await;
    let reading = updates[0].result.as_ref().expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("1.4.0"));
    assert_eq!(reading.digest.as_deref(), Some("sha256:4f2a9c1e0b7d9a8c0011"));
    assert_eq!(reading.health, Some(Health::Up));
    assert_eq!(
        reading.attributes,
        vec![
            ("rollout".to_string(), "complete".to_string()),
            ("replicas".to_string(), "3/3".to_string()),
            ("revision".to_string(), "7".to_string()),
            ("container".to_string(), "app".to_string()),
        ]
    );
    assert_eq!(updates[0].evidence, flightdeck::model::Evidence::Running);
    assert_eq!(reading.previous, None, "no ReplicaSets listed");
    let requests = recorded(&fake);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].path, "/apis/apps/v1/namespaces/prod/deployments/payments");
    assert_eq!(requests[1].path, "/apis/apps/v1/namespaces/prod/replicasets");
    for request in &requests {
        assert_eq!(request.authorization.as_deref(), Some(format!("Bearer {KUBE_TOKEN}").as_str()));
    }
}

#[tokio::test]
async fn previous_is_the_owned_replicaset_below_the_current_revision_with_another_image() {
    let fake =
        FakeApiServer::new().deployment("prod", "payments", &deployment("prod")).replicasets("prod", history("prod"));
    let (updates, fake) = read(fake, &["prod"], "").await;
    let reading = updates[0].result.as_ref().expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("1.4.0"));
    assert_eq!(
        reading.previous.as_deref(),
        Some(&Artifact {
            version: "1.3.2".into(),
            digest: Some("sha256:9e8d7c6b5a4f".into()),
            reference: Some("revision 5".into()),
            ..Artifact::default()
        }),
        "revision 6 runs the same image, the f00d ReplicaSet is another Deployment's"
    );
    assert_eq!(reading.attribute("previous"), None);
    let list = recorded(&fake).into_iter().find(|r| r.path.ends_with("/replicasets")).expect("listed");
    let query = list.query.unwrap_or_default();
    assert_eq!(label_selector(&query), vec![("app".to_string(), "payments".to_string())], "{query}");

    // The envoy container did not change in any revision: no previous.
    let fake =
        FakeApiServer::new().deployment("prod", "payments", &deployment("prod")).replicasets("prod", history("prod"));
    let (updates, _) = read(fake, &["prod"], "container = \"envoy\"").await;
    let reading = updates[0].result.as_ref().expect("a reading");
    assert_eq!((reading.version.as_deref(), reading.previous.as_ref()), (Some("v1.30.1"), None));
}

#[tokio::test]
async fn a_failing_replicaset_list_keeps_the_cells_reading() {
    let fake = FakeApiServer::new()
        .deployment("dev", "payments", &deployment("dev"))
        .deployment("qa", "payments", &deployment("qa"))
        .deployment("prod", "payments", &deployment("prod"))
        .replicasets_fail("dev", StatusCode::INTERNAL_SERVER_ERROR, status_object(500, "InternalError", "etcd is sad"))
        .replicasets_fail("qa", StatusCode::OK, "{\"items\": ".into())
        .replicasets_fail(
            "prod",
            StatusCode::FORBIDDEN,
            status_object(
                403,
                "Forbidden",
                r#"replicasets.apps is forbidden: User "ci" cannot list resource "replicasets" in API group "apps" in the namespace "prod""#,
            ),
        );
    let (updates, fake) = read(fake, &["dev", "qa", "prod"], "").await;
    for update in &updates {
        let reading = update.result.as_ref().expect("the Deployment was read: the cell keeps its reading");
        assert_eq!(reading.version.as_deref(), Some("1.4.0"));
        assert_eq!(reading.health, Some(Health::Up));
        assert_eq!(reading.previous, None);
    }
    assert_eq!(updates[0].result.as_ref().unwrap().attribute("previous"), None, "a 500 is only logged");
    assert_eq!(updates[1].result.as_ref().unwrap().attribute("previous"), None, "a torn body is only logged");
    assert_eq!(
        updates[2].result.as_ref().unwrap().attribute("previous"),
        Some("cannot list replicasets: forbidden"),
        "a 403 is worth saying: RBAC needs `list replicasets`"
    );
    assert_eq!(recorded(&fake).iter().filter(|r| r.path.ends_with("/replicasets")).count(), 3, "tried once each");
}

#[tokio::test]
async fn rollout_complete_progressing_and_deadline_exceeded() {
    let mut progressing = deployment("qa");
    progressing["metadata"]["generation"] = 5.into();
    progressing["status"]["observedGeneration"] = 5.into();
    progressing["status"]["updatedReplicas"] = 1.into();
    progressing["status"]["replicas"] = 4.into();
    let mut failed = deployment("uat");
    failed["status"]["conditions"][1] = json!({"type": "Progressing", "status": "False",
        "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"payments-8c1a\" has timed out progressing."});
    failed["status"]["availableReplicas"] = 2.into();
    let fake = FakeApiServer::new()
        .deployment("dev", "payments", &deployment("dev"))
        .deployment("qa", "payments", &progressing)
        .deployment("uat", "payments", &failed);
    let (updates, _) = read(fake, &["dev", "qa", "uat"], "").await;
    let got: Vec<(Option<&str>, Option<Health>)> = updates
        .iter()
        .map(|u| {
            let r = u.result.as_ref().expect("a reading");
            (r.attribute("rollout"), r.health)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Some("complete"), Some(Health::Up)),
            (Some("progressing"), Some(Health::Degraded)),
            (Some("failed"), Some(Health::Down)),
        ]
    );
}

#[tokio::test]
async fn templates_and_a_named_container() {
    let fake = FakeApiServer::new().deployment("shop-prod", "payments-api", &deployment("shop-prod"));
    let extra = "namespace = \"shop-{env}\"\ndeployment = \"{service}-api\"\ncontainer = \"envoy\"";
    let (updates, fake) = read(fake, &["prod"], extra).await;
    let reading = updates[0].result.as_ref().expect("a reading");
    assert_eq!((reading.version.as_deref(), reading.digest.as_deref()), (Some("v1.30.1"), None));
    assert_eq!(reading.attribute("container"), Some("envoy"));
    assert_eq!(recorded(&fake)[0].path, "/apis/apps/v1/namespaces/shop-prod/deployments/payments-api");

    let fake = FakeApiServer::new().deployment("prod", "payments", &deployment("prod"));
    let (updates, _) = read(fake, &["prod"], "container = \"sidecar\"").await;
    let err = updates[0].result.as_ref().expect_err("no such container");
    assert_eq!(err.to_string(), "no container `sidecar` in this deployment (containers: app, envoy)");
}

#[tokio::test]
async fn not_found_status_is_readable() {
    let (updates, fake) = read(FakeApiServer::new(), &["prod"], "").await;
    let err = updates[0].result.as_ref().expect_err("not found");
    assert_eq!(err.to_string(), "deployment payments not found in namespace prod");
    assert_eq!(recorded(&fake).len(), 1);
}

#[tokio::test]
async fn forbidden_is_an_auth_failure_with_the_api_message() {
    let message = r#"deployments.apps "payments" is forbidden: User "system:serviceaccount:ci:flightdeck" cannot get resource "deployments" in API group "apps" in the namespace "prod""#;
    let fake = FakeApiServer::new().answer(
        "prod",
        "payments",
        StatusCode::FORBIDDEN,
        &[],
        status_object(403, "Forbidden", message),
    );
    let (updates, _) = read(fake, &["prod"], "").await;
    let err = updates[0].result.as_ref().expect_err("forbidden");
    assert!(matches!(err, FetchError::Auth { code: 403, .. }), "{err:?}");
    assert!(err.to_string().contains("cannot get resource \"deployments\""), "{err}");
    assert!(!err.to_string().contains(KUBE_TOKEN));
}

#[tokio::test]
async fn too_many_requests_is_rate_limited_with_retry_after_and_not_retried_by_kube() {
    let fake = FakeApiServer::new().answer(
        "prod",
        "payments",
        StatusCode::TOO_MANY_REQUESTS,
        &[("retry-after", "7")],
        status_object(429, "TooManyRequests", "too many requests, please try again later"),
    );
    let (updates, fake) = read(fake, &["prod"], "").await;
    let err = updates[0].result.as_ref().expect_err("429");
    assert!(matches!(err, FetchError::RateLimited { code: 429, .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(recorded(&fake).len(), 1, "the poller retries, the kube client must not");
}

#[tokio::test]
async fn token_env_replaces_the_kubeconfig_credentials() {
    // Cargo sets CARGO_PKG_NAME for test processes: a variable that exists
    // without mutating the environment.
    let fake = FakeApiServer { token: env!("CARGO_PKG_NAME").into(), ..FakeApiServer::new() }.deployment(
        "prod",
        "payments",
        &deployment("prod"),
    );
    let (updates, fake) = read(fake, &["prod"], "token_env = \"CARGO_PKG_NAME\"").await;
    assert!(updates[0].result.is_ok(), "{:?}", updates[0].result);
    let expected = format!("Bearer {}", env!("CARGO_PKG_NAME"));
    assert_eq!(recorded(&fake)[0].authorization.as_deref(), Some(expected.as_str()));
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized() {
    let fake = FakeApiServer { token: "another".into(), ..FakeApiServer::new() };
    let (updates, _) = read(fake, &["prod"], "").await;
    let err = updates[0].result.as_ref().expect_err("401");
    assert!(matches!(err, FetchError::Auth { code: 401, .. }), "{err:?}");
}

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let fake = FakeApiServer::new()
        .answer("dev", "payments", StatusCode::OK, &[], r#"{"spec": {"template""#.into())
        .answer("prod", "payments", StatusCode::OK, &[], format!(r#"{{"pad": "{}"}}"#, "x".repeat(2 << 20)));
    let (updates, _) = read(fake, &["dev", "prod"], "").await;
    assert!(matches!(updates[0].result, Err(FetchError::Malformed(_))), "{:?}", updates[0].result);
    assert_eq!(updates[1].result, Err(FetchError::TooLarge { limit: flightdeck::sources::fetch::MAX_BODY }));
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    // Bind then drop a listener: nothing answers on that port any more.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(&dir, addr);
    let updates = sweep(&config_text(&kubeconfig, &["prod"], "context = \"loopback\"")).await;
    let err = updates[0].result.as_ref().expect_err("refused");
    assert!(matches!(err, FetchError::Connect(_)), "{err:?}");
    assert!(err.to_string().contains("Connection refused"), "the root cause: {err}");
}

#[test]
fn a_missing_context_fails_at_load_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(&dir, "127.0.0.1:9".parse().unwrap());
    let text = config_text(&kubeconfig, &["prod"], "context = \"prod-eu\"");
    let err = flightdeck::setup::from_toml_str(&text, "test").expect_err("no such context").to_string();
    assert!(err.contains("`sources[0].context`"), "{err}");
    assert!(err.contains("context `prod-eu` not found (contexts: loopback, elsewhere)"), "{err}");
    assert!(err.contains(&kubeconfig), "names the file: {err}");

    // No context at all: say what to set rather than follow current-context.
    let text = config_text(&kubeconfig, &["prod"], "");
    let err = flightdeck::setup::from_toml_str(&text, "test").expect_err("context required").to_string();
    assert!(err.contains("name the kubeconfig context"), "{err}");
}

#[test]
fn a_missing_kubeconfig_or_token_variable_fails_at_load() {
    let text = config_text("/nonexistent/flightdeck/kubeconfig", &["prod"], "context = \"loopback\"");
    let err = flightdeck::setup::from_toml_str(&text, "test").expect_err("no file").to_string();
    assert!(err.contains("`sources[0].kubeconfig`") && err.contains("/nonexistent/flightdeck/kubeconfig"), "{err}");

    // A broken file is reported without quoting it: it holds credentials.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken");
    std::fs::write(&broken, format!("users:\n- name: x\n  user:\n    token: {KUBE_TOKEN}\n  : [\n")).unwrap();
    let text = config_text(&broken.display().to_string(), &["prod"], "context = \"loopback\"");
    let err = flightdeck::setup::from_toml_str(&text, "test").expect_err("bad YAML").to_string();
    assert!(err.contains("not a valid kubeconfig"), "{err}");
    assert!(!err.contains(KUBE_TOKEN), "{err}");

    let kubeconfig = write_kubeconfig(&dir, "127.0.0.1:9".parse().unwrap());
    let extra = "context = \"loopback\"\ntoken_env = \"FLIGHTDECK_TEST_SURELY_UNSET_KUBE_TOKEN\"";
    let err = flightdeck::setup::from_toml_str(&config_text(&kubeconfig, &["prod"], extra), "test")
        .expect_err("unset variable")
        .to_string();
    assert!(err.contains("token_env") && err.contains("FLIGHTDECK_TEST_SURELY_UNSET_KUBE_TOKEN is not set"), "{err}");
}

#[test]
fn options_are_strict() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(&dir, "127.0.0.1:9".parse().unwrap());
    let check = |extra: &str| {
        flightdeck::setup::from_toml_str(&config_text(&kubeconfig, &["prod"], extra), "test")
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert!(check("context = \"loopback\"").is_ok());
    assert!(check("context = \"loopback\"\nlabel = \"x\"").unwrap_err().contains("label"));
    assert!(check("context = \"loopback\"\ndeployment = \"{svc}\"").unwrap_err().contains("unknown placeholder"));
    assert!(check("context = \"loopback\"\nnamespace = \"Prod\"").unwrap_err().contains("not allowed"));
    assert!(check("context = \"loopback\"\nin_cluster = true").unwrap_err().contains("leave out `context`"));
    assert!(check("context = \"{env}\"").unwrap_err().contains("one source per cluster"));
}

/// A kubeconfig whose user gets its token from a credential plugin (as
/// `aws eks get-token` or `gke-gcloud-auth-plugin` do) that takes `secs`.
fn write_exec_kubeconfig(dir: &tempfile::TempDir, addr: SocketAddr, secs: u32) -> String {
    let credential = format!(
        r#"{{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{{"token":"{KUBE_TOKEN}","expirationTimestamp":"2099-01-01T00:00:00Z"}}}}"#
    );
    let script = dir.path().join("credential-plugin");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> {}\nsleep {secs}\ncat <<'END'\n{credential}\nEND\n",
            dir.path().join("runs").display()
        ),
    )
    .expect("write plugin");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod plugin");
    let credentials = format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n      interactiveMode: Never\n",
        script.display()
    );
    write_kubeconfig_with(dir, addr, &credentials)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_credential_plugin_does_not_hold_up_the_other_sources() {
    // The plugin runs when the client is made (the first fetch); it must
    // not stop the poller's thread, where every other source's cells are read.
    let fake = FakeApiServer::new().deployment("prod", "payments", &deployment("prod"));
    let (addr, _fake) = serve(fake).await;
    let versions = Router::new().route("/{env}/{service}", get(|| async { "2.0.0" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let http_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, versions).await });
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = write_exec_kubeconfig(&dir, addr, 1);
    let text = format!(
        r#"{}
[[sources]]
name = "endpoint"
kind = "http"
url = "http://{http_addr}/{{env}}/{{service}}"
every = "100ms"
"#,
        config_text(&kubeconfig, &["prod"], "context = \"loopback\"")
    );
    let (_poller, mut rx) = poll(&text);
    // When each of the endpoint's answers came, until the cluster's.
    let mut endpoint = Vec::new();
    let cluster = loop {
        let update = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("an update").expect("open");
        match &*update.source {
            "cluster" => break update,
            _ => endpoint.push(std::time::Instant::now()),
        }
    };
    let reading = cluster.result.expect("the cluster reads with the plugin's token");
    assert_eq!(reading.version.as_deref(), Some("1.4.0"));
    // Read every 100 ms all along: no gap of the plugin's second.
    let gap = endpoint.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default();
    assert!(endpoint.len() >= 5, "the endpoint was read {} times while the plugin ran", endpoint.len());
    assert!(gap < Duration::from_millis(500), "the endpoint waited {gap:?} between two reads");
}

/// How many times the plugin `write_exec_kubeconfig` wrote in `dir` ran.
fn plugin_runs(dir: &tempfile::TempDir) -> usize {
    std::fs::read_to_string(dir.path().join("runs")).map(|t| t.lines().count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_plugin_slower_than_the_timeout_still_gives_a_client() {
    let fake = FakeApiServer::new().deployment("prod", "payments", &deployment("prod"));
    let (addr, _fake) = serve(fake).await;
    // What making one client takes of a plugin that answers at once.
    let quick = tempfile::tempdir().expect("temp dir");
    let kubeconfig = write_exec_kubeconfig(&quick, addr, 0);
    let updates = sweep(&config_text(&kubeconfig, &["prod"], "context = \"loopback\"")).await;
    assert!(updates[0].result.is_ok(), "{:?}", updates[0].result);
    let one_client = plugin_runs(&quick);
    assert!(one_client >= 1, "the plugin ran");
    // A plugin that takes a second a run, each fetch cut off after one.
    let slow = tempfile::tempdir().expect("temp dir");
    let kubeconfig = write_exec_kubeconfig(&slow, addr, 1);
    let text = config_text(&kubeconfig, &["prod"], "context = \"loopback\"\ntimeout = \"1s\"\nevery = \"200ms\"");
    let (_poller, mut rx) = poll(&text);
    let mut timeouts = 0;
    loop {
        let update =
            tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.expect("a reading in time").expect("open");
        match update.result {
            Ok(reading) => {
                assert_eq!(reading.version.as_deref(), Some("1.4.0"));
                break;
            }
            Err(FetchError::Timeout(_)) => timeouts += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(timeouts >= 1, "the first fetch was cut off while the plugin ran");
    assert_eq!(plugin_runs(&slow), one_client, "the plugin ran for one client, not once per fetch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_does_not_wait_for_a_credential_plugin_past_its_timeout() {
    let fake = FakeApiServer::new().deployment("prod", "payments", &deployment("prod"));
    let (addr, _fake) = serve(fake).await;
    let dir = tempfile::tempdir().expect("temp dir");
    // Three seconds a run (kube runs it more than once for a client).
    let kubeconfig = write_exec_kubeconfig(&dir, addr, 3);
    let config = dir.path().join("flightdeck.toml");
    std::fs::write(&config, config_text(&kubeconfig, &["prod"], "context = \"loopback\"\ntimeout = \"1s\""))
        .expect("write config");
    let started = std::time::Instant::now();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .arg("--config")
        .arg(&config)
        .args(["check", "--retries", "0", "--format", "json"])
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .output()
        .await
        .expect("check runs");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("timed out"), "the cell's fetch timed out: {stdout}");
    assert!(took < Duration::from_millis(2500), "check waited for the plugin: {took:?}");
}
