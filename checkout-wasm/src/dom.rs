//! Small DOM helpers the views share.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Appends `<script src=url>` to the document head and waits for it to load.
pub async fn load_script(url: &str) -> Result<(), JsValue> {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let script = doc.create_element("script")?;
    script.set_attribute("src", url)?;
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let _ = script.add_event_listener_with_callback("load", &resolve);
        let _ = script.add_event_listener_with_callback("error", &reject);
    });
    doc.head().ok_or("no head")?.append_child(&script)?;
    let loaded = JsFuture::from(promise).await;
    if loaded.is_err() {
        // Gone, so that a retry asks the network again instead of finding this one.
        script.remove();
    }
    loaded.map(|_| ())
}

/// Waits `ms` milliseconds without blocking the page.
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// `document.hidden`: the customer is on another tab, so polling would be wasted.
pub fn tab_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| js_sys::Reflect::get(&d, &"hidden".into()).ok())
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Resolves when the tab becomes visible again.
pub async fn wait_until_visible() {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    while tab_hidden() {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let opts = web_sys::AddEventListenerOptions::new();
            opts.set_once(true);
            let _ = doc.add_event_listener_with_callback_and_add_event_listener_options(
                "visibilitychange",
                &resolve,
                &opts,
            );
        });
        let _ = JsFuture::from(promise).await;
    }
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn perf_now() -> f64;
    #[wasm_bindgen(js_namespace = performance, js_name = measure, catch)]
    fn perf_measure(name: &str, options: &JsValue) -> Result<JsValue, JsValue>;
}

/// The widget's own time in `mount()`, network waits excluded: each stretch between
/// two waits becomes a `performance.measure("checkout:mount", …)` entry, which the
/// benchmark (or a merchant's RUM) sums. The provider's own synchronous calls (Stripe
/// building its card field's iframe) are measured apart, as `checkout:provider`.
pub struct OwnTime {
    since: std::cell::Cell<f64>,
}

fn measure(name: &str, start: f64, end: f64) {
    let opts = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&opts, &"start".into(), &start.into());
    let _ = js_sys::Reflect::set(&opts, &"end".into(), &end.into());
    let _ = perf_measure(name, &opts);
}

impl OwnTime {
    pub const MEASURE: &'static str = "checkout:mount";
    pub const PROVIDER: &'static str = "checkout:provider";

    pub fn start() -> OwnTime {
        OwnTime {
            since: std::cell::Cell::new(perf_now()),
        }
    }

    /// Ends a stretch (before a wait).
    pub fn pause(&self) {
        measure(Self::MEASURE, self.since.get(), perf_now());
    }

    /// Starts the next stretch (after a wait).
    pub fn resume(&self) {
        self.since.set(perf_now());
    }

    /// Runs the provider's code `f` between two of the widget's stretches.
    pub fn provider<T>(&self, f: impl FnOnce() -> T) -> T {
        self.pause();
        let start = perf_now();
        let out = f();
        measure(Self::PROVIDER, start, perf_now());
        self.resume();
        out
    }
}
