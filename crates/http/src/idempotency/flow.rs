//! What a write sent with an `Idempotency-Key` goes through, after auth and
//! body validation: the key is taken on this instance (else 409), a past
//! answer is replayed (or the key reused for another request is 422), the
//! write runs with its answer recorded in its own transaction, and what was
//! actually sent is made the recorded answer.

use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use support_domain::{
    Actor, AnswerRecord, AnswerRenderer, Committed, FieldError, IdempotencyKey, KeyedRequest,
    RecordedAnswer, Replay, RequestFingerprint, SupportError, SupportService, Ticket,
};

use super::answer::{recorded, replayed, response};
use super::fingerprint::fingerprint;
use super::in_flight::{InFlightGuard, InFlightRequests};
use super::key::{IDEMPOTENCY_KEY, idempotency_key};
use crate::dto::{Body, parse_ticket_id};
use crate::error::{ApiError, Endpoint};

/// The key a request came with and what it asked for.
#[derive(Debug)]
pub struct Requested {
    key: IdempotencyKey,
    fingerprint: RequestFingerprint,
}

/// Reads `req`'s key, if any, and fingerprints the request with its parsed
/// `body`: a bad key is a field error, reported with the body's.
pub fn requested(req: &HttpRequest, body: &Body) -> Result<Option<Requested>, Vec<FieldError>> {
    let Some(key) = idempotency_key(req)? else {
        return Ok(None);
    };
    let if_match: Vec<&str> = req
        .headers()
        .get_all(header::IF_MATCH)
        .filter_map(|v| v.to_str().ok())
        .collect();
    let if_match = (!if_match.is_empty()).then(|| if_match.join(","));
    let fingerprint = fingerprint(
        req.method().as_str(),
        &target(req),
        if_match.as_deref(),
        body.as_ref(),
    )
    .map_err(|e| vec![FieldError::new(IDEMPOTENCY_KEY, e.message())])?;
    Ok(Some(Requested { key, fingerprint }))
}

/// What a request is about, as its handler reads it: the route's pattern
/// with the ticket id it names in canonical form (`/tickets/007` and
/// `/tickets/7` are one ticket). Without a matched route (never, for a
/// handler's request), the path as sent.
fn target(req: &HttpRequest) -> String {
    let Some(pattern) = req.match_pattern() else {
        return req.path().to_owned();
    };
    match req.match_info().get("ticketId").map(parse_ticket_id) {
        Some(Ok(id)) => pattern.replace("{ticketId}", &id.get().to_string()),
        _ => pattern,
    }
}

/// The points award a write makes after its commit (a create, a resolve),
/// as the answer recorded in the write's transaction tells it: not yet
/// confirmed. Once the award is made, the answer sent replaces it
/// ([`Run::finish`] amends); a server that stops in between leaves this
/// one, so a replay never claims points that were not awarded.
pub const AWARD_UNCONFIRMED: &str =
    "points award not confirmed: the service stopped after the change was stored";

/// How a keyed request starts.
pub enum Begun {
    /// The key answered this request before: this is its answer again.
    Replayed(HttpResponse),
    /// The write is to run (with the key's record, if there is a key).
    Fresh(Run),
}

/// Starts `caller`'s request for `endpoint`: without a key nothing happens.
/// With one: 409 while the key runs on this instance, its past answer when
/// the same request was answered, 422 when another was; else the write is
/// to run, its answer rendered by `render` (the handler's own answer,
/// assuming the write's follow-ups succeed).
pub async fn begin(
    req: &HttpRequest,
    service: &SupportService,
    endpoint: Endpoint,
    caller: Actor,
    requested: Option<Requested>,
    render: impl Fn(Committed<'_>) -> HttpResponse + Send + Sync + 'static,
) -> Result<Begun, ApiError> {
    let Some(Requested { key, fingerprint }) = requested else {
        return Ok(Begun::Fresh(Run {
            keyed: None,
            endpoint,
        }));
    };
    let request = KeyedRequest {
        caller,
        key,
        fingerprint,
    };
    // A key that answered is replayed without being taken: replays of one
    // key never wait for each other (nor get 409).
    match service
        .past_answer(&request)
        .await
        .map_err(|e| ApiError::from_domain(endpoint, e))?
    {
        Some(Replay::Answer(answer)) => return Ok(Begun::Replayed(replayed(&answer))),
        Some(Replay::OtherRequest) => return Err(ApiError::idempotency_key_reused()),
        None => {}
    }
    // No answer yet: the key is taken on this instance (409 if it runs
    // here already). A request with the key that finished between the
    // lookup and here is not run twice either: its answer holds the key in
    // the database, so this write is refused (`IdempotencyKeyTaken`) and
    // answers with that answer, as are a refusal's and a no-op's record.
    let in_flight = match req.app_data::<InFlightRequests>() {
        Some(registry) => Some(
            registry
                .claim(&request)
                .ok_or_else(ApiError::idempotency_key_in_use)?,
        ),
        None => None,
    };
    let rendered = Arc::new(Mutex::new(None));
    let last = rendered.clone();
    let renderer: AnswerRenderer = Arc::new(move |committed| {
        let answer = recorded(render(committed));
        *last.lock().unwrap_or_else(PoisonError::into_inner) = Some(answer.clone());
        answer
    });
    Ok(Begun::Fresh(Run {
        keyed: Some(Keyed {
            record: service.answer_record(request, renderer),
            rendered,
            _in_flight: in_flight,
        }),
        endpoint,
    }))
}

/// The ticket a write left (a comment's ticket, for a comment).
pub fn ticket_of(committed: Committed<'_>) -> &Ticket {
    match committed {
        Committed::Ticket(ticket) | Committed::Comment { ticket, .. } => ticket,
    }
}

/// A write about to run, and what its key (if any) needs afterwards.
pub struct Run {
    keyed: Option<Keyed>,
    endpoint: Endpoint,
}

struct Keyed {
    record: AnswerRecord,
    /// The answer the write last rendered in its transaction.
    rendered: Arc<Mutex<Option<RecordedAnswer>>>,
    /// Released when the answer has been decided (or the client left).
    _in_flight: Option<InFlightGuard>,
}

/// What a successful write answers.
pub struct Sent {
    response: HttpResponse,
    stored: bool,
}

impl Sent {
    /// `response`, for a write that stored its answer with it (`stored`)
    /// or one that changed nothing and so stored nothing.
    pub fn new(response: HttpResponse, stored: bool) -> Self {
        Self { response, stored }
    }

    /// `response`, for a write that always stores (a create, a comment).
    pub fn stored(response: HttpResponse) -> Self {
        Self::new(response, true)
    }
}

impl Run {
    /// What the write records its answer with: `None` without a key.
    pub fn record(&self) -> Option<AnswerRecord> {
        self.keyed.as_ref().map(|k| k.record.clone())
    }

    /// Answers the write's `result` (`respond` makes the success's answer).
    /// With a key: a success whose answer differs from the one recorded in
    /// its transaction amends it (a points award failed after the commit);
    /// one that stored nothing, and a lasting refusal, are recorded now
    /// (5xx, 408, 409, 429 and refusals that ask for a retry are not); a
    /// write refused because another request took the key replays that
    /// request's answer.
    pub async fn finish<T>(
        self,
        service: &SupportService,
        result: Result<T, SupportError>,
        respond: impl FnOnce(T) -> Sent,
    ) -> Result<HttpResponse, ApiError> {
        let endpoint = self.endpoint;
        let Some(keyed) = self.keyed else {
            return result
                .map(|value| respond(value).response)
                .map_err(|e| ApiError::from_domain(endpoint, e));
        };
        let request = keyed.record.request.clone();
        let answer = match result {
            Ok(value) => {
                let sent = respond(value);
                let answer = recorded(sent.response);
                let in_transaction = keyed
                    .rendered
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                match in_transaction {
                    Some(stored) if sent.stored => {
                        if stored != answer {
                            amend(service, request, answer.clone()).await;
                        }
                    }
                    _ => {
                        if let Some(theirs) = keep(service, request, answer.clone()).await {
                            return theirs;
                        }
                    }
                }
                answer
            }
            Err(SupportError::IdempotencyKeyTaken) => {
                return answer_of_winner(service, &request, endpoint).await;
            }
            Err(error) => {
                let error = ApiError::from_domain(endpoint, error);
                if !error.is_lasting_refusal() {
                    return Err(error);
                }
                let answer = recorded(actix_web::ResponseError::error_response(&error));
                if let Some(theirs) = keep(service, request, answer.clone()).await {
                    return theirs;
                }
                answer
            }
        };
        Ok(response(&answer))
    }
}

/// Makes `answer` the one recorded for `request`; a failure leaves the one
/// recorded in the transaction (the change is made either way).
async fn amend(service: &SupportService, request: KeyedRequest, answer: RecordedAnswer) {
    if let Err(error) = service.amend_answer(request, answer).await {
        tracing::warn!(%error, "could not amend an idempotent answer");
    }
}

/// Records `answer` for a request that stored nothing with its write.
/// `None` when recorded (or when it could not be: a retry then runs again
/// and gets the same answer); the answer to send instead when another
/// request with the key recorded first.
async fn keep(
    service: &SupportService,
    request: KeyedRequest,
    answer: RecordedAnswer,
) -> Option<Result<HttpResponse, ApiError>> {
    match service.record_answer(request, answer).await {
        Ok(None) => None,
        Ok(Some(Replay::Answer(theirs))) => Some(Ok(replayed(&theirs))),
        Ok(Some(Replay::OtherRequest)) => Some(Err(ApiError::idempotency_key_reused())),
        Err(error) => {
            tracing::warn!(%error, "could not record an idempotent answer");
            None
        }
    }
}

/// The answer of the request (on another instance, or one whose client
/// left) whose write took the key first.
async fn answer_of_winner(
    service: &SupportService,
    request: &KeyedRequest,
    endpoint: Endpoint,
) -> Result<HttpResponse, ApiError> {
    match service.past_answer(request).await {
        Ok(Some(Replay::Answer(answer))) => Ok(replayed(&answer)),
        Ok(Some(Replay::OtherRequest)) => Err(ApiError::idempotency_key_reused()),
        // Gone already (expired meanwhile): the client retries.
        Ok(None) => Err(ApiError::idempotency_key_in_use()),
        Err(error) => Err(ApiError::from_domain(endpoint, error)),
    }
}
