//! Endpoints about the service itself: liveness and the API description. The
//! Worker answers them without waking any object.

use worker::{Request, Response, Result, RouteContext};

use crate::merchant::Object;

pub fn health() -> Result<Response> {
    crate::http::json(200, &serde_json::json!({"status": "ok"}))
}

/// The OpenAPI 3.1 document, kept beside the code it describes.
pub fn openapi() -> Result<Response> {
    crate::http::json_text(200, include_str!("../openapi.json").to_owned())
}

/// Public routes are answered by the Worker before any object is asked; an object's
/// router lists them only for the route table's sake and never runs this.
pub async fn never(_req: Request, _rc: RouteContext<Object>) -> Result<Response> {
    Response::error("Not Found", 404)
}
