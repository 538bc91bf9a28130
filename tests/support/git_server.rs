//! A git graph behind loopback servers that answer the documented shapes
//! of GitHub's compare (`/repos/{o}/{r}/compare/{base}...{head}`, pages,
//! 404 for an unknown ref, ETags) and pulls, and GitLab's compare
//! (`/projects/:id/repository/compare?from=&to=`) and merge requests;
//! "is X in main" is the graph's answer. Shared by `tests/changes_compare.rs`
//! and `tests/changes_cli.rs` (included with `#[path]`).

#![allow(dead_code)] // each includer uses its own part

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// A git graph: commits with parents, and refs.

#[derive(Debug, Clone)]
pub struct GitCommit {
    pub sha: String,
    pub parents: Vec<String>,
    pub message: String,
    pub author: String,
}

#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub commits: Vec<GitCommit>,
    /// sha → position in `commits`.
    pub index: HashMap<String, usize>,
    pub refs: HashMap<String, String>,
    /// PR number → (title, labels), for `/pulls/{n}` and `/merge_requests/{n}`.
    pub pulls: HashMap<u64, (String, Vec<String>)>,
}

impl Graph {
    pub fn commit(&mut self, message: &str, parents: &[&str]) -> String {
        self.commit_by(message, "Ada Lovelace", parents)
    }

    pub fn commit_by(&mut self, message: &str, author: &str, parents: &[&str]) -> String {
        // Distinct from the first hex digit on, as real ones are: short shas work.
        let n = self.commits.len() as u64;
        let x = (n + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let sha = format!("{x:016x}{:016x}{n:08x}", x.rotate_left(29));
        self.index.insert(sha.clone(), self.commits.len());
        self.commits.push(GitCommit {
            sha: sha.clone(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            message: message.to_string(),
            author: author.to_string(),
        });
        sha
    }

    pub fn set_ref(&mut self, name: &str, sha: &str) {
        self.refs.insert(name.to_string(), sha.to_string());
    }

    /// `n` commits in a line on top of `parent`; the last one's sha.
    pub fn line(&mut self, parent: &str, n: usize, subject: impl Fn(usize) -> String) -> String {
        let mut tip = parent.to_string();
        for i in 0..n {
            tip = self.commit(&subject(i), &[&tip]);
        }
        tip
    }

    pub fn resolve(&self, name: &str) -> Option<usize> {
        let sha = self.refs.get(name).map(String::as_str).unwrap_or(name);
        if let Some(&i) = self.index.get(sha) {
            return Some(i);
        }
        if sha.len() < 7 {
            return None;
        }
        self.commits.iter().position(|c| c.sha.starts_with(sha))
    }

    pub fn ancestors(&self, from: usize) -> HashSet<usize> {
        let mut seen = HashSet::new();
        let mut stack = vec![from];
        while let Some(i) = stack.pop() {
            if seen.insert(i) {
                stack.extend(self.commits[i].parents.iter().filter_map(|p| self.index.get(p).copied()));
            }
        }
        seen
    }

    /// (status, commits in head not in base oldest first, behind count).
    pub fn compare(&self, base: &str, head: &str) -> Option<(&'static str, Vec<usize>, usize)> {
        let (b, h) = (self.ancestors(self.resolve(base)?), self.ancestors(self.resolve(head)?));
        let mut ahead: Vec<usize> = h.difference(&b).copied().collect();
        ahead.sort_unstable();
        let behind = b.difference(&h).count();
        let status = match (ahead.len(), behind) {
            (0, 0) => "identical",
            (_, 0) => "ahead",
            (0, _) => "behind",
            _ => "diverged",
        };
        Some((status, ahead, behind))
    }

    pub fn date(i: usize) -> String {
        format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + i / 1440 % 28, i / 60 % 24, i % 60)
    }

    pub fn github_commit(&self, i: usize) -> Value {
        let c = &self.commits[i];
        json!({
            "sha": c.sha, "node_id": "C_x",
            "commit": {
                "author": {"name": c.author, "email": "a@example.com", "date": Self::date(i)},
                "committer": {"name": "GitHub", "email": "noreply@github.com", "date": Self::date(i)},
                "message": c.message, "tree": {"sha": "t", "url": "u"}, "url": "u", "comment_count": 0,
            },
            "author": {"login": "ada", "id": 1},
            "committer": null,
            "parents": c.parents.iter().map(|p| json!({"sha": p, "url": "u"})).collect::<Vec<_>>(),
            "url": "u", "html_url": "h",
        })
    }

    pub fn gitlab_commit(&self, i: usize) -> Value {
        let c = &self.commits[i];
        json!({
            "id": c.sha, "short_id": &c.sha[..8],
            "title": c.message.lines().next().unwrap_or_default(), "message": c.message,
            "author_name": c.author, "author_email": "a@example.com",
            "authored_date": Self::date(i), "created_at": Self::date(i),
            "committer_name": c.author, "committed_date": Self::date(i),
            "parent_ids": c.parents, "web_url": "w",
        })
    }
}

// ---------------------------------------------------------------------------
// The servers.

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

pub struct Server {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    pub seen: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn seen(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

/// Serve `handler` on an ephemeral loopback port, each answer after `delay`.
pub async fn serve_slow(delay: Duration, handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Server {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = Arc::new(handler);
    let (h, s) = (hits.clone(), seen.clone());
    let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let (h, s, f) = (h.clone(), s.clone(), handler.clone());
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            let req = Request { path: uri.path().to_string(), query: uri.query().unwrap_or("").to_string(), headers };
            s.lock().unwrap().push(req.clone());
            tokio::time::sleep(delay).await;
            f(&req)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("test server") });
    Server { addr, hits, seen }
}

pub async fn serve(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Server {
    serve_slow(Duration::ZERO, handler).await
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

pub fn json_response(code: u16, value: &Value) -> Response {
    let mut resp = ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], value.to_string()).into_response();
    *resp.status_mut() = StatusCode::from_u16(code).unwrap();
    resp
}

pub fn with_headers(mut resp: Response, headers: &[(&'static str, String)]) -> Response {
    for (k, v) in headers {
        resp.headers_mut().insert(*k, v.parse().unwrap());
    }
    resp
}

/// A 200 with a weak ETag over the body, or a 304 if the client already has it.
pub fn conditional(req: &Request, value: &Value) -> Response {
    let body = value.to_string();
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    let etag = format!("W/\"{:016x}\"", hasher.finish());
    if req.header("if-none-match") == Some(etag.as_str()) {
        return with_headers(StatusCode::NOT_MODIFIED.into_response(), &[("etag", etag)]);
    }
    with_headers(json_response(200, value), &[("etag", etag)])
}

pub fn decode_path(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// GitHub's compare and pulls for `repo`, from the shared graph.
pub fn github_api(
    repo: &'static str,
    graph: Arc<Mutex<Graph>>,
) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    move |req: &Request| {
        let graph = graph.lock().unwrap();
        let not_found = || {
            json_response(
                404,
                &json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
            )
        };
        let Some(rest) = req.path.strip_prefix(&format!("/repos/{repo}/")) else { return not_found() };
        if let Some(number) = rest.strip_prefix("pulls/") {
            let Some((title, labels)) = number.parse().ok().and_then(|n: u64| graph.pulls.get(&n)) else {
                return not_found();
            };
            let labels: Vec<Value> = labels.iter().map(|l| json!({"id": 1, "name": l, "color": "f00"})).collect();
            return conditional(
                req,
                &json!({"number": number.parse::<u64>().unwrap(), "state": "closed", "title": title, "labels": labels}),
            );
        }
        let Some(spec) = rest.strip_prefix("compare/") else { return not_found() };
        let spec = decode_path(spec);
        let Some((base, head)) = spec.split_once("...") else { return not_found() };
        let Some((status, ahead, behind)) = graph.compare(base, head) else { return not_found() };
        // Without paging parameters: the first 250 commits. With them: pages and a Link header.
        let paged = req.param("per_page").is_some() || req.param("page").is_some();
        let per_page: usize = req.param("per_page").and_then(|p| p.parse().ok()).unwrap_or(250).clamp(1, 250);
        let page: usize = req.param("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
        let (from, to) = if paged { ((page - 1) * per_page, page * per_page) } else { (0, 250) };
        let listed: Vec<Value> =
            ahead.iter().skip(from).take(to.saturating_sub(from)).map(|&i| graph.github_commit(i)).collect();
        let body = json!({
            "url": "u", "html_url": "h", "permalink_url": "p", "diff_url": "d", "patch_url": "p",
            "base_commit": {"sha": graph.commits[graph.resolve(base).unwrap()].sha},
            "merge_base_commit": {"sha": "m"},
            "status": status, "ahead_by": ahead.len(), "behind_by": behind, "total_commits": ahead.len(),
            "commits": listed, "files": [],
        });
        let mut resp = conditional(req, &body);
        if paged && to < ahead.len() {
            let host = req.header("host").unwrap_or_default();
            let last = ahead.len().div_ceil(per_page);
            let link = format!(
                "<http://{host}{path}?per_page={per_page}&page={next}>; rel=\"next\", <http://{host}{path}?per_page={per_page}&page={last}>; rel=\"last\"",
                path = req.path,
                next = page + 1
            );
            resp.headers_mut().insert("link", link.parse().unwrap());
        }
        resp
    }
}

/// GitLab's compare and merge requests for project `acme/payments`.
pub fn gitlab_api(graph: Arc<Mutex<Graph>>) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    move |req: &Request| {
        let graph = graph.lock().unwrap();
        let Some(rest) = req.path.strip_prefix("/api/v4/projects/acme%2Fpayments/") else {
            return json_response(404, &json!({"message": "404 Project Not Found"}));
        };
        if let Some(iid) = rest.strip_prefix("merge_requests/") {
            let Some((title, labels)) = iid.parse().ok().and_then(|n: u64| graph.pulls.get(&n)) else {
                return json_response(404, &json!({"message": "404 Not found"}));
            };
            return conditional(
                req,
                &json!({"id": 9000, "iid": iid.parse::<u64>().unwrap(), "title": title, "labels": labels, "state": "merged"}),
            );
        }
        if rest != "repository/compare" {
            return json_response(404, &json!({"error": "404 Not Found"}));
        }
        let (Some(from), Some(to)) = (req.param("from"), req.param("to")) else {
            return json_response(400, &json!({"error": "from is missing, to is missing"}));
        };
        let Some((_, ahead, _)) = graph.compare(&from, &to) else {
            return json_response(404, &json!({"message": "404 Ref Not Found"}));
        };
        let commits: Vec<Value> = ahead.iter().map(|&i| graph.gitlab_commit(i)).collect();
        let head = ahead.last().map(|&i| graph.gitlab_commit(i));
        conditional(
            req,
            &json!({"commit": head, "commits": commits, "diffs": [], "compare_timeout": false,
                    "compare_same_ref": from == to, "web_url": "w"}),
        )
    }
}
