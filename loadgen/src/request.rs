//! Pre-built request templates: everything parsed once, cloned (cheaply) per request.

use bytes::Bytes;
use http::header::{HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::Full;
use rand::Rng;
use rand::rngs::SmallRng;

use crate::plan::SpecError;
use crate::spec::{KeySpec, RequestTemplate};

/// One parsed template.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) method: Method,
    /// Origin-form (`/path?q`) for HTTP/1.1, absolute for HTTP/2.
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// The weighted set of templates plus the optional key header.
#[derive(Debug)]
pub(crate) struct Templates {
    items: Vec<Prepared>,
    cumulative: Vec<u32>,
    key: Option<(HeaderName, u64, u64)>,
}

impl Templates {
    /// Parses the templates against the base URL.
    pub(crate) fn build(
        base: &Uri,
        templates: &[RequestTemplate],
        key: Option<&KeySpec>,
        absolute: bool,
    ) -> Result<Self, SpecError> {
        let default = [RequestTemplate::default()];
        let templates = if templates.is_empty() {
            &default[..]
        } else {
            templates
        };
        let authority = base
            .authority()
            .ok_or_else(|| SpecError::new("url", "has no host"))?;
        let mut items = Vec::with_capacity(templates.len());
        let mut cumulative = Vec::with_capacity(templates.len());
        let mut total = 0u32;
        for (i, t) in templates.iter().enumerate() {
            let at = |field: &str| format!("requests[{i}].{field}");
            let method = Method::from_bytes(t.method.as_bytes())
                .map_err(|e| SpecError::new(at("method"), e))?;
            let path = t
                .path
                .as_deref()
                .or_else(|| base.path_and_query().map(|p| p.as_str()))
                .unwrap_or("/");
            let uri: Uri = if absolute {
                let scheme = if base.scheme_str() == Some("https") {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{authority}{path}").parse()
            } else {
                path.parse()
            }
            .map_err(|e| SpecError::new(at("path"), e))?;
            let mut headers = HeaderMap::new();
            if !absolute {
                let host = HeaderValue::from_str(authority.as_str())
                    .map_err(|e| SpecError::new("url", e))?;
                headers.insert(HOST, host);
            }
            for (k, v) in &t.headers {
                let name = HeaderName::from_bytes(k.as_bytes())
                    .map_err(|e| SpecError::new(at("headers"), e))?;
                let value =
                    HeaderValue::from_str(v).map_err(|e| SpecError::new(at("headers"), e))?;
                headers.append(name, value);
            }
            let body = match (&t.body, &t.body_file) {
                (Some(_), Some(_)) => {
                    return Err(SpecError::new(
                        at("body"),
                        "set body or body_file, not both",
                    ));
                }
                (Some(b), None) => Bytes::from(b.clone()),
                (None, Some(path)) => Bytes::from(std::fs::read(path).map_err(|e| {
                    SpecError::new(at("body_file"), format!("{}: {e}", path.display()))
                })?),
                (None, None) => Bytes::new(),
            };
            total = total
                .checked_add(t.weight)
                .ok_or_else(|| SpecError::new(at("weight"), "weights overflow"))?;
            cumulative.push(total);
            items.push(Prepared {
                method,
                uri,
                headers,
                body,
            });
        }
        if total == 0 {
            return Err(SpecError::new(
                "requests",
                "at least one weight must be > 0",
            ));
        }
        let key = match key {
            Some(k) => {
                if k.from > k.to {
                    return Err(SpecError::new("key", "from must be <= to"));
                }
                let name = HeaderName::from_bytes(k.header.as_bytes())
                    .map_err(|e| SpecError::new("key.header", e))?;
                Some((name, k.from, k.to))
            }
            None => None,
        };
        Ok(Self {
            items,
            cumulative,
            key,
        })
    }

    /// The parsed templates, in spec order.
    pub(crate) fn items(&self) -> &[Prepared] {
        &self.items
    }

    /// The key header's name, if a key is configured.
    pub(crate) fn key_name(&self) -> Option<&HeaderName> {
        self.key.as_ref().map(|(name, _, _)| name)
    }

    /// Picks the next template's index by weight (no randomness with a single template).
    pub(crate) fn pick(&self, rng: &mut SmallRng) -> usize {
        if self.items.len() == 1 {
            0
        } else {
            let total = *self.cumulative.last().expect("at least one template");
            let x = rng.random_range(0..total);
            self.cumulative.partition_point(|c| *c <= x)
        }
    }

    /// Draws the next key value (call after [`Templates::pick`], as [`Templates::next`] does).
    pub(crate) fn key_value(&self, rng: &mut SmallRng) -> Option<u64> {
        self.key
            .as_ref()
            .map(|(_, from, to)| rng.random_range(*from..=*to))
    }

    /// Builds the next request (picks a template by weight, fills the key).
    pub(crate) fn next(&self, rng: &mut SmallRng) -> Request<Full<Bytes>> {
        let p = &self.items[self.pick(rng)];
        let mut req = Request::new(Full::new(p.body.clone()));
        *req.method_mut() = p.method.clone();
        *req.uri_mut() = p.uri.clone();
        *req.headers_mut() = p.headers.clone();
        if let (Some(name), Some(v)) = (self.key_name(), self.key_value(rng)) {
            req.headers_mut().insert(name.clone(), HeaderValue::from(v));
        }
        req
    }
}
