//! The toxic description shared by the library, the HTTP API and scenario files, in
//! Toxiproxy's JSON shape: `name`, `type`, `stream`, `toxicity`, `attributes`.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::toxic::{
    Bandwidth, DropChunks, HttpCut, HttpDelay, HttpStatus, Latency, LimitData, ResetPeer, Slicer,
    SlowClose, Timeout, Toxic,
};

/// Every toxic type this build knows, as named in `type`.
pub const TOXIC_TYPES: &[&str] = &[
    "latency",
    "bandwidth",
    "slow_close",
    "timeout",
    "reset_peer",
    "slicer",
    "limit_data",
    "drop",
    "http_status",
    "http_delay",
    "http_cut",
];

/// A direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Client to server.
    Upstream,
    /// Server to client.
    Downstream,
}

impl Stream {
    /// Parses `upstream` / `downstream`, in any letter case (as Toxiproxy does).
    pub fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("upstream") {
            Some(Self::Upstream)
        } else if text.eq_ignore_ascii_case("downstream") {
            Some(Self::Downstream)
        } else {
            None
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upstream => "upstream",
            Self::Downstream => "downstream",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A toxic as written in JSON (request bodies, scenario files) and as answered back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ToxicSpec {
    /// Type-specific settings; unknown keys are ignored, missing ones take their default.
    pub attributes: Value,
    /// Unique name on its proxy; empty means `<type>_<stream>`.
    pub name: String,
    /// One of [`TOXIC_TYPES`].
    #[serde(rename = "type")]
    pub kind: String,
    /// `upstream` or `downstream` (default), any letter case.
    pub stream: String,
    /// Probability, drawn once per connection, that the toxic applies to it (default 1).
    pub toxicity: f32,
}

impl Default for ToxicSpec {
    fn default() -> Self {
        Self {
            attributes: Value::Object(Default::default()),
            name: String::new(),
            kind: String::new(),
            stream: "downstream".to_owned(),
            toxicity: 1.0,
        }
    }
}

impl ToxicSpec {
    /// A spec of `kind` on `stream` with these attributes, named `<type>_<stream>`.
    pub fn new(kind: &str, stream: Stream, attributes: Value) -> Self {
        Self {
            attributes,
            kind: kind.to_owned(),
            stream: stream.as_str().to_owned(),
            ..Self::default()
        }
    }

    /// The same spec with another name.
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// The same spec with another toxicity.
    pub fn with_toxicity(mut self, toxicity: f32) -> Self {
        self.toxicity = toxicity;
        self
    }
}

/// Why a toxic description was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// `stream` is neither upstream nor downstream.
    #[error("stream was invalid, can be either upstream or downstream")]
    InvalidStream,
    /// `type` is not a known toxic.
    #[error("invalid toxic type")]
    InvalidType,
    /// `attributes` do not fit the type.
    #[error("bad request body: {0}")]
    BadAttributes(String),
    /// An HTTP toxic placed on the direction where it cannot see what it acts on.
    #[error("bad request body: {kind} acts on {needs}; set \"stream\": \"{needs}\"")]
    WrongStream {
        /// The toxic type.
        kind: String,
        /// The stream it needs.
        needs: &'static str,
    },
}

/// A toxic checked and ready: the normalised spec and the fault it runs.
#[derive(Debug, Clone)]
pub struct Built {
    /// The spec with its name, stream and full attributes filled in.
    pub spec: ToxicSpec,
    /// The parsed direction.
    pub stream: Stream,
    /// The fault.
    pub toxic: Arc<dyn Toxic>,
}

fn parse<T: Toxic + Serialize + DeserializeOwned + 'static>(
    attributes: &Value,
) -> Result<(Arc<dyn Toxic>, Value), SpecError> {
    let attributes = match attributes {
        Value::Null => Value::Object(Default::default()),
        other => other.clone(),
    };
    let toxic: T =
        serde_json::from_value(attributes).map_err(|e| SpecError::BadAttributes(e.to_string()))?;
    let normalised =
        serde_json::to_value(&toxic).map_err(|e| SpecError::BadAttributes(e.to_string()))?;
    Ok((Arc::new(toxic), normalised))
}

/// Checks a spec and builds its toxic, filling in the default name and every attribute.
pub fn build(spec: &ToxicSpec) -> Result<Built, SpecError> {
    let stream = Stream::parse(&spec.stream).ok_or(SpecError::InvalidStream)?;
    let a = &spec.attributes;
    let (toxic, attributes) = match spec.kind.as_str() {
        "latency" => parse::<Latency>(a)?,
        "bandwidth" => parse::<Bandwidth>(a)?,
        "slow_close" => parse::<SlowClose>(a)?,
        "timeout" => parse::<Timeout>(a)?,
        "reset_peer" => parse::<ResetPeer>(a)?,
        "slicer" => parse::<Slicer>(a)?,
        "limit_data" => parse::<LimitData>(a)?,
        "drop" => parse::<DropChunks>(a)?,
        "http_status" => parse::<HttpStatus>(a)?,
        "http_delay" => parse::<HttpDelay>(a)?,
        "http_cut" => parse::<HttpCut>(a)?,
        _ => return Err(SpecError::InvalidType),
    };
    let needs = match spec.kind.as_str() {
        "http_status" => Some(Stream::Upstream),
        "http_delay" | "http_cut" => Some(Stream::Downstream),
        _ => None,
    };
    if let Some(needs) = needs.filter(|n| *n != stream) {
        return Err(SpecError::WrongStream {
            kind: spec.kind.clone(),
            needs: needs.as_str(),
        });
    }
    let name = if spec.name.is_empty() {
        format!("{}_{}", spec.kind, spec.stream)
    } else {
        spec.name.clone()
    };
    Ok(Built {
        spec: ToxicSpec {
            attributes,
            name,
            ..spec.clone()
        },
        stream,
        toxic,
    })
}

/// Merges an update body into an existing spec: `attributes` keys and `toxicity` that are
/// present replace the old values, everything else is kept (Toxiproxy's update semantics).
pub fn merge(old: &ToxicSpec, update: &Value) -> Result<ToxicSpec, SpecError> {
    let mut spec = old.clone();
    let Value::Object(update) = update else {
        return Err(SpecError::BadAttributes(
            "expected a JSON object".to_owned(),
        ));
    };
    if let Some(t) = update.get("toxicity") {
        spec.toxicity = t
            .as_f64()
            .ok_or_else(|| SpecError::BadAttributes("toxicity must be a number".to_owned()))?
            as f32;
    }
    match update.get("attributes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(new)) => {
            if let Value::Object(attrs) = &mut spec.attributes {
                for (k, v) in new {
                    attrs.insert(k.clone(), v.clone());
                }
            }
        }
        Some(_) => {
            return Err(SpecError::BadAttributes(
                "attributes must be an object".to_owned(),
            ));
        }
    }
    Ok(spec)
}
