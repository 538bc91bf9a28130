//! The `prometheus` source: metrics about each cell from PromQL instant
//! queries. It reads numbers, never versions (role [`Role::Metrics`]), so
//! its readings are shown in the cell detail and never count as evidence of
//! what runs, nor as "no deployment".
//!
//! ```toml
//! [[sources]]
//! name = "metrics"
//! kind = "prometheus"
//! api_url = "http://prometheus:9090"
//! # token_env = "PROMETHEUS_TOKEN"     # optional, sent as a Bearer token
//! [sources.queries]
//! error_rate = 'sum(rate(http_requests_total{job="{service}",env="{env}",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="{service}",env="{env}"}[5m]))'
//! ```
//!
//! Only the exact tokens `{service}` and `{env}` are placeholders; every
//! other brace is PromQL's own. Values arrive as strings (`"0.0123"`,
//! `"NaN"`, `"+Inf"`) and stay what they are: an empty result is
//! [`MetricValue::NoData`], never 0.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use super::auth::{self, Token};
use super::fetch::{self, FetchError, HttpContext};
use super::http::{UrlTemplate, parse_options};
use super::{CellTarget, Fetched, OptionError, Source};
use crate::model::SourceSpec;
use crate::model::rollback::BaselineAt;
use crate::model::{Evidence, Metric, MetricBaseline, MetricValue, Reading, Role};
use crate::sanitize;

/// Characters kept from a message Prometheus sends back.
const MESSAGE_LEN: usize = 200;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    api_url: String,
    token_env: Option<String>,
    queries: Queries,
}

/// `name → PromQL template`, in the order the configuration gives them.
#[derive(Debug, Clone, Default)]
struct Queries(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Queries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Queries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table of metric name = \"PromQL query\"")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Queries, A::Error> {
                let mut out = Vec::new();
                while let Some((name, query)) = map.next_entry::<String, String>()? {
                    out.push((name, query));
                }
                Ok(Queries(out))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// A PromQL query with `{service}` and `{env}` placeholders. Every other
/// brace belongs to PromQL (`{job="x"}`) and is left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryTemplate(String);

impl QueryTemplate {
    /// Check a template: not empty, and no `{word}` that looks like a
    /// mistyped placeholder (a bare word in braces is never valid PromQL).
    pub fn parse(raw: &str) -> Result<QueryTemplate, String> {
        if raw.trim().is_empty() {
            return Err("the query is empty".into());
        }
        let mut rest = raw;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            if let Some(close) = after.find('}') {
                let word = &after[..close];
                // `{2}` is a regex quantifier; `{svc}` is a placeholder gone wrong.
                let bare = word.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                    && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if bare && word != "service" && word != "env" {
                    return Err(format!("unknown placeholder {{{word}}} (use {{service}} and {{env}})"));
                }
            }
            rest = after;
        }
        Ok(QueryTemplate(raw.to_string()))
    }

    /// The query for one cell: exact `{service}` and `{env}` tokens replaced.
    pub fn render(&self, service: &str, env: &str) -> String {
        self.0.replace("{service}", service).replace("{env}", env)
    }
}

/// Metric names are plain identifiers: they label values in the detail
/// and will be referred to by rollback triggers.
fn valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 64
}

pub(crate) struct PrometheusSource {
    api_url: UrlTemplate,
    token: Option<Token>,
    queries: Arc<[(String, QueryTemplate)]>,
    /// When the baseline of each query is measured (`[rollback] baseline`).
    baseline: Option<BaselineAt>,
    /// Baselines, once read, do not move: a fixed time's value does not
    /// change, and a duration is taken that long before the cockpit first
    /// read the cell (a baseline that followed now would absorb the very
    /// regression it is there to show).
    baselines: Arc<Mutex<HashMap<String, (Timestamp, MetricValue)>>>,
}

/// Most baselines kept (cells × queries).
const MAX_CACHED_BASELINES: usize = 100_000;

impl PrometheusSource {
    pub fn build(spec: &SourceSpec) -> Result<Arc<dyn Source>, Vec<OptionError>> {
        let options: Options = parse_options(&spec.options)?;
        let mut errors = Vec::new();
        let api_url = match check_api_url(&options.api_url) {
            Ok(url) => Some(url),
            Err(m) => {
                errors.push(OptionError::new("api_url", m));
                None
            }
        };
        let token = auth::from_env(options.token_env.as_deref()).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        if options.queries.0.is_empty() {
            errors.push(OptionError::new(
                "queries",
                "no queries: add at least one, e.g. queries = { error_rate = \"…\" }",
            ));
        }
        let mut queries = Vec::with_capacity(options.queries.0.len());
        for (name, raw) in &options.queries.0 {
            if !valid_metric_name(name) {
                errors.push(OptionError::new(
                    format!("queries.{name}"),
                    format!(
                        "`{}` is not a metric name: use letters, digits and '_' (e.g. error_rate)",
                        sanitize::clean_to(name, 40)
                    ),
                ));
                continue;
            }
            match QueryTemplate::parse(raw) {
                Ok(query) => queries.push((name.clone(), query)),
                Err(m) => errors.push(OptionError::new(format!("queries.{name}"), m)),
            }
        }
        match api_url {
            Some(api_url) if errors.is_empty() => Ok(Arc::new(PrometheusSource {
                api_url,
                token,
                queries: queries.into(),
                baseline: spec.baseline,
                baselines: Arc::default(),
            })),
            _ => Err(errors),
        }
    }
}

/// `api_url` is the server's base URL; `{service}`/`{env}` are allowed for
/// one Prometheus per environment.
fn check_api_url(raw: &str) -> Result<UrlTemplate, String> {
    let url = UrlTemplate::parse(raw)?;
    let path = raw.split(['?', '#']).next().unwrap_or(raw).trim_end_matches('/');
    if path.ends_with("/api/v1") || path.ends_with("/api/v1/query") {
        return Err(format!(
            "`{raw}`: give the server's base URL (e.g. http://prometheus:9090), without /api/v1; flightdeck adds it"
        ));
    }
    Ok(url)
}

impl Source for PrometheusSource {
    /// Metrics are not evidence of what runs; the weakest level keeps them
    /// out of the way should anything ever rank them with deployments.
    fn default_evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn role(&self) -> Role {
        Role::Metrics
    }

    fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    fn fetch(&self, ctx: &HttpContext, cell: &CellTarget) -> BoxFuture<'static, Result<Fetched, FetchError>> {
        let api_url = self.api_url.render(&cell.service, &cell.env);
        let client = ctx.client.clone();
        let token = self.token.clone();
        let queries: Vec<(String, String)> =
            self.queries.iter().map(|(name, q)| (name.clone(), q.render(&cell.service, &cell.env))).collect();
        let baseline = self.baseline;
        let cache = self.baselines.clone();
        async move {
            // Live values and baselines in one go: a slow baseline must not
            // eat the live queries' share of the timeout.
            let live = futures::future::join_all(
                queries.iter().map(|(_, promql)| instant_query(&client, &api_url, token.as_ref(), promql, None)),
            );
            let now = Timestamp::now();
            let baselines = futures::future::join_all(queries.iter().map(|(_, promql)| async {
                match baseline {
                    Some(b) => Some(baseline_query(&client, &api_url, token.as_ref(), promql, b, now, &cache).await),
                    None => None,
                }
            }));
            let (results, baselines) = futures::join!(live, baselines);
            let mut metrics = Vec::with_capacity(queries.len());
            for (((name, _), result), baseline) in queries.iter().zip(results).zip(baselines) {
                // The first failing query, in configuration order, fails the cell.
                let value = result.map_err(|e| for_metric(name, e))?;
                metrics.push(Metric { baseline, ..Metric::new(name.clone(), value) });
            }
            Ok(Reading { metrics, ..Reading::default() })
        }
        .map(|read| read.map(Fetched::Reading))
        .boxed()
    }
}

/// The value of a query at its baseline time. A failure is kept beside
/// the live value (the live value still counts), never turned into 0.
async fn baseline_query(
    client: &reqwest::Client,
    api_url: &str,
    token: Option<&Token>,
    promql: &str,
    baseline: BaselineAt,
    now: Timestamp,
    cache: &Mutex<HashMap<String, (Timestamp, MetricValue)>>,
) -> MetricBaseline {
    let at = baseline.at(now);
    if at > now {
        return MetricBaseline {
            at,
            value: None,
            error: Some(format!("measured from {} (the window's start)", at.strftime("%m-%d %H:%M UTC"))),
        };
    }
    let key = match baseline {
        BaselineAt::Fixed(t) => format!("{api_url}\u{0}{promql}\u{0}{}", t.as_millisecond()),
        BaselineAt::Ago(_) => format!("{api_url}\u{0}{promql}\u{0}ago"),
    };
    if let Some((at, value)) = super::lock(cache).get(&key).copied() {
        return MetricBaseline { at, value: Some(value), error: None };
    }
    match instant_query(client, api_url, token, promql, Some(at)).await {
        Ok(value) => {
            // Only numbers are final: "no data" may be Prometheus catching up.
            if matches!(value, MetricValue::Number(_)) {
                let mut cache = super::lock(cache);
                if cache.len() < MAX_CACHED_BASELINES {
                    cache.insert(key, (at, value));
                }
            }
            MetricBaseline { at, value: Some(value), error: None }
        }
        Err(e) => MetricBaseline { at, value: None, error: Some(e.to_string()) },
    }
}

/// Name the metric in errors that belong to its query; errors of the
/// server or the credentials keep their kind (and any `Retry-After`).
pub(crate) fn for_metric(name: &str, err: FetchError) -> FetchError {
    match err {
        FetchError::Field(m) => FetchError::Field(format!("{name}: {m}")),
        FetchError::Other(m) => FetchError::Other(format!("{name}: {m}")),
        FetchError::Malformed(m) => FetchError::Malformed(format!("{name}: {m}")),
        FetchError::Status { code, detail } => FetchError::Status { code, detail: format!("{name}: {detail}") },
        other => other,
    }
}

/// The URL of an instant query: `{api_url}/api/v1/query?query=…[&time=…]`,
/// properly form-encoded (PromQL's braces, quotes and spaces included).
pub(crate) fn query_url(api_url: &str, promql: &str, at: Option<Timestamp>) -> Result<url::Url, FetchError> {
    let mut url = url::Url::parse(api_url)
        .map_err(|e| FetchError::Other(format!("invalid api_url `{}`: {e}", sanitize::clean_to(api_url, 80))))?;
    let path = format!("{}/api/v1/query", url.path().trim_end_matches('/'));
    url.set_path(&path);
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("query", promql);
        if let Some(at) = at {
            pairs.append_pair("time", &format_time(at));
        }
    }
    Ok(url)
}

/// Prometheus takes `time` as RFC 3339 or Unix seconds; seconds with
/// milliseconds are unambiguous.
fn format_time(at: Timestamp) -> String {
    let ms = at.as_millisecond();
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Run one instant query, now or at `at` (a baseline before the window),
/// and return its single value. Errors do not name a metric: see
/// [`for_metric`]. The token goes in a header, never in a message.
pub async fn instant_query(
    client: &reqwest::Client,
    api_url: &str,
    token: Option<&Token>,
    promql: &str,
    at: Option<Timestamp>,
) -> Result<MetricValue, FetchError> {
    let url = query_url(api_url, promql, at)?;
    let mut request = client.get(url).header(reqwest::header::ACCEPT, "application/json");
    if let Some(token) = token {
        request = request.bearer_auth(token.expose());
    }
    let resp = fetch::get_capped(request, fetch::MAX_BODY).await?;
    if resp.status.is_success() {
        return parse_response(&resp.body);
    }
    match resp.status.as_u16() {
        // A proxy in front, or Prometheus's own --web.config.file: credentials or rate limits.
        401 | 403 | 429 => Err(fetch::classify_status(&resp, None)),
        // Prometheus reports query errors as JSON with 400, 422 and 503 (and more).
        _ => match api_error(&resp.body) {
            Some(err) => Err(err),
            None => Err(fetch::classify_status(&resp, None)),
        },
    }
}

/// The Prometheus envelope; `data` is read by hand for its many shapes.
#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Value,
    #[serde(rename = "errorType", default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// A Prometheus error body (`{"status":"error","errorType":…,"error":…}`)
/// as a readable error; `None` if the body is not one.
fn api_error(body: &[u8]) -> Option<FetchError> {
    let envelope: Envelope = serde_json::from_slice(body.trim_ascii()).ok()?;
    (envelope.status == "error").then(|| error_of(&envelope))
}

fn error_of(envelope: &Envelope) -> FetchError {
    let kind = envelope.error_type.as_deref().map(|t| sanitize::clean_to(t, 40)).filter(|t| !t.is_empty());
    let message = envelope
        .error
        .as_deref()
        .map(|m| sanitize::clean_to(m, MESSAGE_LEN))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "no message".into());
    FetchError::Other(match kind {
        Some(kind) => format!("{kind}: {message}"),
        None => message,
    })
}

/// Decode an instant-query response body into its one value. Pure.
///
/// A vector with one sample or a scalar gives its value (`NaN` and `+Inf`
/// kept as such); an empty vector is [`MetricValue::NoData`]; several
/// series are an error, since a cell has one value per metric.
pub fn parse_response(body: &[u8]) -> Result<MetricValue, FetchError> {
    let envelope: Envelope = serde_json::from_slice(body.trim_ascii())
        .map_err(|e| FetchError::Malformed(sanitize::clean_to(&e.to_string(), 100)))?;
    match envelope.status.as_str() {
        "success" => {}
        "error" => return Err(error_of(&envelope)),
        other => {
            return Err(FetchError::Field(format!(
                "unexpected status `{}` in the response",
                sanitize::clean_to(other, 40)
            )));
        }
    }
    let data = &envelope.data;
    let result_type = data.get("resultType").and_then(Value::as_str).unwrap_or("");
    let result = data.get("result").ok_or_else(|| FetchError::Field("no `data.result` in the response".into()))?;
    match result_type {
        "vector" => {
            let series = result.as_array().ok_or_else(|| FetchError::Field("`data.result` is not a list".into()))?;
            match series.as_slice() {
                [] => Ok(MetricValue::NoData),
                [one] => match (one.get("value"), one.get("histogram")) {
                    (Some(pair), _) => sample_value(pair),
                    (None, Some(_)) => Err(FetchError::Field(
                        "the query returned a native histogram; use histogram_quantile() to get a number".into(),
                    )),
                    (None, None) => Err(FetchError::Field("a series without a value".into())),
                },
                many => Err(FetchError::Field(format!(
                    "query returned {} series; aggregate it with sum() or max()",
                    many.len()
                ))),
            }
        }
        "scalar" => sample_value(result),
        "matrix" => Err(FetchError::Field(
            "the query returned a range vector; use an instant vector (e.g. wrap it in rate() or sum())".into(),
        )),
        "string" => Err(FetchError::Field("the query returned a string, not a number".into())),
        other => Err(FetchError::Field(format!("unknown resultType `{}`", sanitize::clean_to(other, 40)))),
    }
}

/// `[1714557600.0, "0.0123"]` → the value; the string may be `NaN`, `+Inf`.
fn sample_value(pair: &Value) -> Result<MetricValue, FetchError> {
    let raw = match pair.as_array().map(Vec::as_slice) {
        Some([_, Value::String(s)]) => s,
        _ => return Err(FetchError::Field("a sample is not [time, \"value\"]".into())),
    };
    MetricValue::parse(raw)
        .ok_or_else(|| FetchError::Field(format!("sample value `{}` is not a number", sanitize::clean_to(raw, 40))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(samples: &[&str]) -> Vec<u8> {
        let result: Vec<Value> = samples
            .iter()
            .enumerate()
            .map(|(i, v)| serde_json::json!({"metric": {"instance": format!("i{i}")}, "value": [1714557600.0, v]}))
            .collect();
        serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": result}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn one_sample_is_its_value() {
        assert_eq!(parse_response(&vector(&["0.0123"])), Ok(MetricValue::Number(0.0123)));
        assert_eq!(parse_response(&vector(&["0"])), Ok(MetricValue::Number(0.0)));
    }

    #[test]
    fn nan_and_infinities_stay_what_they_are() {
        assert_eq!(parse_response(&vector(&["NaN"])), Ok(MetricValue::NaN));
        assert_eq!(parse_response(&vector(&["+Inf"])), Ok(MetricValue::PosInf));
        assert_eq!(parse_response(&vector(&["-Inf"])), Ok(MetricValue::NegInf));
    }

    #[test]
    fn empty_result_is_no_data_not_zero() {
        assert_eq!(parse_response(&vector(&[])), Ok(MetricValue::NoData));
    }

    #[test]
    fn several_series_must_be_aggregated() {
        let err = parse_response(&vector(&["1", "2", "3"])).unwrap_err();
        assert_eq!(err.to_string(), "query returned 3 series; aggregate it with sum() or max()");
        assert_eq!(
            for_metric("error_rate", err).to_string(),
            "error_rate: query returned 3 series; aggregate it with sum() or max()"
        );
    }

    #[test]
    fn scalar_is_accepted() {
        let body = br#"{"status":"success","data":{"resultType":"scalar","result":[1714557600.5,"42"]}}"#;
        assert_eq!(parse_response(body), Ok(MetricValue::Number(42.0)));
    }

    #[test]
    fn error_envelope_is_readable() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \u001b[31m"}"#;
        let err = parse_response(body).unwrap_err();
        assert_eq!(err.to_string(), "bad_data: 1:5: parse error: unexpected");
        assert_eq!(api_error(body), Some(err));
        assert_eq!(api_error(b"<html>bad gateway</html>"), None);
    }

    #[test]
    fn odd_shapes_are_errors_not_values() {
        for body in [
            &br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#[..],
            br#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,0.5]}]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{}]}]}}"#,
            br#"{"status":"success","data":{}}"#,
            br#"{"status":"weird"}"#,
        ] {
            assert!(matches!(parse_response(body), Err(FetchError::Field(_))), "{}", String::from_utf8_lossy(body));
        }
        assert!(matches!(parse_response(b"{\"status\":"), Err(FetchError::Malformed(_))));
        assert!(matches!(parse_response(b""), Err(FetchError::Malformed(_))));
    }

    #[test]
    fn placeholders_are_exact_tokens_and_promql_braces_stay() {
        let q =
            QueryTemplate::parse(r#"sum(rate(x{job="{service}",env="{env}",code=~"5.."}[5m])) > bool {env}"#).unwrap();
        assert_eq!(
            q.render("payments", "prod"),
            r#"sum(rate(x{job="payments",env="prod",code=~"5.."}[5m])) > bool prod"#
        );
        assert!(QueryTemplate::parse("  ").unwrap_err().contains("empty"));
        assert!(QueryTemplate::parse(r#"up{job="{svc}"}"#).unwrap_err().contains("unknown placeholder {svc}"));
        // Regex quantifiers and label matchers are PromQL's own.
        assert!(QueryTemplate::parse(r#"up{job=~"a{2}",x!=""}"#).is_ok());
        assert!(QueryTemplate::parse(r#"{__name__="up"}"#).is_ok());
    }

    #[test]
    fn query_url_is_form_encoded_with_an_optional_time() {
        let url = query_url("http://prom:9090/", r#"sum(up{job="a b"}) + 1"#, None).unwrap();
        assert_eq!(url.path(), "/api/v1/query");
        assert_eq!(url.query(), Some("query=sum%28up%7Bjob%3D%22a+b%22%7D%29+%2B+1"));
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs, vec![("query".to_string(), r#"sum(up{job="a b"}) + 1"#.to_string())]);

        let at: Timestamp = "2026-11-24T18:00:00.250Z".parse().unwrap();
        let url = query_url("https://example.test/prometheus", "up", Some(at)).unwrap();
        assert_eq!(url.as_str(), "https://example.test/prometheus/api/v1/query?query=up&time=1795543200.250");
    }

    #[test]
    fn metric_names_are_identifiers() {
        assert!(valid_metric_name("error_rate"));
        assert!(valid_metric_name("p95_latency"));
        assert!(!valid_metric_name("9lives"));
        assert!(!valid_metric_name("error-rate"));
        assert!(!valid_metric_name(""));
    }

    #[test]
    fn api_url_is_the_base() {
        assert!(check_api_url("http://prometheus:9090").is_ok());
        assert!(check_api_url("http://prometheus.{env}.internal:9090/").is_ok());
        assert!(check_api_url("http://prometheus:9090/api/v1").unwrap_err().contains("without /api/v1"));
        assert!(check_api_url("ftp://prometheus").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_response_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_response(&body);
        }

        #[test]
        fn any_sample_string_round_trips_or_errors(raw in "\\PC{0,20}") {
            let body = serde_json::json!({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.0, raw]}]}});
            match parse_response(body.to_string().as_bytes()) {
                Ok(v) => proptest::prop_assert_ne!(v, MetricValue::NoData),
                Err(e) => proptest::prop_assert!(matches!(e, FetchError::Field(_))),
            }
        }
    }
}
