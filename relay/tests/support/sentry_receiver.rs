//! A loopback stand-in for Sentry's generic flag hook: it checks `X-Sentry-Signature` as Sentry
//! does (`401` when wrong), applies the generic provider's serializer rules to the body
//! (`GenericRequestSerializer`, `GenericItemSerializer`, `GenericItemCreatedBySerializer`) and,
//! like Sentry, answers `200` with an empty body when they hold and `200` with the errors when
//! they do not. A test can script answers (`500` first, hold a request until released, errors
//! regardless).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use openfeature_hooks_relay::__private::hmac_signature;
use openfeature_hooks_relay::Secret;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Iso8601;

/// How to answer one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Sentry's own behaviour: `401`, or `200` with or without validation errors.
    AsSentry,
    /// This status, empty body.
    Status(u16),
    /// `200` with a validation error, whatever the body.
    Errors,
    /// Wait until [`SentryReceiver::release`], then answer as Sentry.
    Hold,
}

/// One request as received, and what was made of it.
#[derive(Clone, Debug)]
pub struct SentryRequest {
    pub path: String,
    pub signature: Option<String>,
    pub body: Vec<u8>,
    /// Whether the signature is the HMAC-SHA256 of the body under the receiver's secret.
    pub signed: bool,
    /// The serializer's errors, `None` when the body passes.
    pub errors: Option<Value>,
    /// The status answered.
    pub status: u16,
}

impl SentryRequest {
    /// The `data` items.
    pub fn items(&self) -> Vec<Value> {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|b| b["data"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Whether Sentry would have recorded its changes.
    pub fn accepted(&self) -> bool {
        self.status == 200 && self.signed && self.errors.is_none()
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<SentryRequest>>,
    arrived: Condvar,
    script: Mutex<VecDeque<Answer>>,
    default: Mutex<Option<Answer>>,
    released: Mutex<bool>,
    release: Condvar,
    stop: AtomicBool,
}

pub struct SentryReceiver {
    address: SocketAddr,
    secret: String,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl SentryReceiver {
    pub fn start(secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("port: {e}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("address: {e}"));
        let shared = Arc::new(Shared::default());
        let (acceptor_shared, key) = (shared.clone(), secret.to_owned());
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if acceptor_shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let (shared, key) = (acceptor_shared.clone(), key.clone());
                    std::thread::spawn(move || serve(stream, &shared, &key));
                }
            }
        });
        Self {
            address,
            secret: secret.to_owned(),
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The hook's URL, shaped as Sentry's.
    pub fn url(&self) -> String {
        format!(
            "http://{}/api/0/organizations/acme/flags/hooks/provider/generic/",
            self.address
        )
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Answers the next requests so, one each, before the default.
    pub fn script(&self, answers: &[Answer]) {
        lock(&self.shared.script).extend(answers.iter().copied());
    }

    /// Answers every request not scripted so (Sentry's behaviour unless told).
    pub fn answer_with(&self, answer: Answer) {
        *lock(&self.shared.default) = Some(answer);
    }

    /// Lets held requests (and later ones) be answered.
    pub fn release(&self) {
        *lock(&self.shared.released) = true;
        self.shared.release.notify_all();
    }

    pub fn requests(&self) -> Vec<SentryRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Waits (on a condition variable) until `done` holds or `timeout` passes.
    pub fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&[SentryRequest]) -> bool,
    ) -> Vec<SentryRequest> {
        let deadline = Instant::now() + timeout;
        let mut requests = lock(&self.shared.requests);
        while !done(&requests) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            requests = self
                .shared
                .arrived
                .wait_timeout(requests, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        requests.clone()
    }

    /// The items of every accepted request, in arrival order.
    pub fn accepted_items(&self) -> Vec<Value> {
        accepted_items(&self.requests())
    }

    /// Waits until `count` items were accepted.
    pub fn accepted(&self, count: usize) -> Vec<Value> {
        accepted_items(&self.wait_until(Duration::from_secs(20), |r| {
            accepted_items(r).len() >= count
        }))
    }
}

pub fn accepted_items(requests: &[SentryRequest]) -> Vec<Value> {
    requests
        .iter()
        .filter(|r| r.accepted())
        .flat_map(SentryRequest::items)
        .collect()
}

impl Drop for SentryReceiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.release();
        let _ = TcpStream::connect(self.address);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn serve(stream: TcpStream, shared: &Shared, secret: &str) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some((path, headers, body)) = read_request(&mut reader) {
        let scripted = lock(&shared.script).pop_front();
        let mut answer =
            scripted.unwrap_or_else(|| lock(&shared.default).unwrap_or(Answer::AsSentry));
        let signature = headers
            .iter()
            .find(|(n, _)| n == "x-sentry-signature")
            .map(|(_, v)| v.clone());
        let signed = signature.as_deref() == Some(&hmac_signature(&Secret::new(secret), &body));
        let errors = validate(&body).err();
        // Recorded on arrival (status 0 until answered), so a test sees a held request.
        let index = {
            let mut requests = lock(&shared.requests);
            requests.push(SentryRequest {
                path,
                signature,
                body,
                signed,
                errors: if answer == Answer::Errors {
                    Some(json!("scripted"))
                } else {
                    errors.clone()
                },
                status: 0,
            });
            requests.len() - 1
        };
        shared.arrived.notify_all();
        if answer == Answer::Hold {
            let mut released = lock(&shared.released);
            while !*released && !shared.stop.load(Ordering::SeqCst) {
                released = shared
                    .release
                    .wait_timeout(released, Duration::from_millis(50))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            answer = Answer::AsSentry;
        }
        let (status, reply) = match answer {
            Answer::Status(status) => (status, String::new()),
            Answer::Errors => (
                200,
                json!({"data": [{"flag": ["Ensure this field has no more than 100 characters."]}]})
                    .to_string(),
            ),
            Answer::AsSentry | Answer::Hold if !signed => (401, "\"Not authorized.\"".to_owned()),
            Answer::AsSentry | Answer::Hold => match &errors {
                Some(errors) => (200, errors.to_string()),
                None => (200, String::new()),
            },
        };
        if let Some(request) = lock(&shared.requests).get_mut(index) {
            request.status = status;
        }
        shared.arrived.notify_all();
        let head = format!(
            "HTTP/1.1 {status} Test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            reply.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(reply.as_bytes()).is_err()
        {
            return;
        }
    }
}

type Request = (String, Vec<(String, String)>, Vec<u8>);

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, headers, body))
}

/// Python's `str.isspace`: what Django REST framework's `CharField` trims.
fn python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// A `CharField(required=True, max_length=100)`: a string, not blank once trimmed, no NUL.
fn char_field(value: Option<&Value>) -> Result<(), &'static str> {
    let Some(value) = value else {
        return Err("This field is required.");
    };
    let Some(text) = value.as_str() else {
        return Err("Not a valid string.");
    };
    if text.contains('\0') {
        return Err("Null characters are not allowed.");
    }
    let trimmed = text.trim_matches(python_space);
    if trimmed.is_empty() {
        return Err("This field may not be blank.");
    }
    if trimmed.chars().count() > 100 {
        return Err("Ensure this field has no more than 100 characters.");
    }
    Ok(())
}

fn choice(value: Option<&Value>, choices: &[&str]) -> Result<(), &'static str> {
    match value.and_then(Value::as_str) {
        None if value.is_none() => Err("This field is required."),
        Some(v) if choices.contains(&v) => Ok(()),
        _ => Err("is not a valid choice."),
    }
}

/// `GenericRequestSerializer`: `{"data": [item, ...], "meta": {"version": <int>}}`.
pub fn validate(body: &[u8]) -> Result<(), Value> {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return Err(json!({"non_field_errors": ["Invalid data."]}));
    };
    let mut errors = Map::new();
    match request.get("meta") {
        Some(Value::Object(meta))
            if meta
                .get("version")
                .is_some_and(|v| v.is_i64() || v.is_u64()) => {}
        _ => {
            errors.insert(
                "meta".into(),
                json!({"version": ["A valid integer is required."]}),
            );
        }
    }
    match request.get("data") {
        Some(Value::Array(items)) => {
            let item_errors: Vec<Value> = items.iter().map(validate_item).collect();
            if item_errors
                .iter()
                .any(|e| e.as_object().is_some_and(|o| !o.is_empty()))
            {
                errors.insert("data".into(), Value::Array(item_errors));
            }
        }
        _ => {
            errors.insert("data".into(), json!(["This field is required."]));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Value::Object(errors))
    }
}

/// `GenericItemSerializer` and `GenericItemCreatedBySerializer`.
fn validate_item(item: &Value) -> Value {
    let mut errors = Map::new();
    let Some(item) = item.as_object() else {
        return json!({"non_field_errors": ["Invalid data."]});
    };
    let mut check = |field: &str, result: Result<(), &'static str>| {
        if let Err(message) = result {
            errors.insert(field.into(), json!([message]));
        }
    };
    check(
        "action",
        choice(item.get("action"), &["created", "updated", "deleted"]),
    );
    check(
        "change_id",
        match item.get("change_id") {
            Some(v) if v.is_i64() || v.is_u64() => Ok(()),
            None => Err("This field is required."),
            Some(_) => Err("A valid integer is required."),
        },
    );
    check(
        "created_at",
        match item.get("created_at").and_then(Value::as_str) {
            Some(text) if OffsetDateTime::parse(text, &Iso8601::DEFAULT).is_ok() => Ok(()),
            None if item.get("created_at").is_none() => Err("This field is required."),
            _ => Err("Datetime has wrong format."),
        },
    );
    check("flag", char_field(item.get("flag")));
    match item.get("created_by") {
        Some(Value::Object(by)) => {
            let mut by_errors = Map::new();
            if let Err(message) = char_field(by.get("id")) {
                by_errors.insert("id".into(), json!([message]));
            }
            if let Err(message) = choice(by.get("type"), &["email", "id", "name"]) {
                by_errors.insert("type".into(), json!([message]));
            }
            if !by_errors.is_empty() {
                errors.insert("created_by".into(), Value::Object(by_errors));
            }
        }
        _ => {
            errors.insert("created_by".into(), json!(["This field is required."]));
        }
    }
    Value::Object(errors)
}
