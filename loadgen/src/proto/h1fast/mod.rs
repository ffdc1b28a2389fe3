//! A hand-rolled HTTP/1.1 client for the hot path: requests serialised once per template,
//! responses parsed with httparse into counts (status, group, body bytes), nothing kept.

mod chunked;
mod conn;
mod request;
mod response;
#[cfg(test)]
mod tests;

pub(crate) use conn::FastH1;
pub(crate) use request::Wire;
