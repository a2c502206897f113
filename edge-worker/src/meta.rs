//! Endpoints about the service itself: liveness and the API description.

use worker::{Request, Response, Result, RouteContext};

pub async fn health(_req: Request, _ctx: RouteContext<()>) -> Result<Response> {
    crate::http::json(200, &serde_json::json!({"status": "ok"}))
}

/// The OpenAPI 3.1 document, kept beside the code it describes.
pub async fn openapi(_req: Request, _ctx: RouteContext<()>) -> Result<Response> {
    crate::http::json_text(200, include_str!("../openapi.json").to_owned())
}
