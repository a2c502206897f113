// Types of the checkout widget's ES module (`/v1/checkout.mjs`, npm package
// `@edge-checkout/widget`). The contract: API.md, section "Widget".

/** The languages the widget speaks. Others fall back to the page's `lang`, the browser, then English. */
export type Locale = 'de' | 'fr' | 'it' | 'en' | 'ru';

export interface AppearanceVariables {
  colorPrimary?: string;
  colorBackground?: string;
  colorText?: string;
  colorDanger?: string;
  fontFamily?: string;
  /** A CSS length, e.g. `"16px"`. */
  fontSizeBase?: string;
  /** A CSS length, e.g. `"8px"`. */
  borderRadius?: string;
  /** A CSS length, e.g. `"16px"`. */
  spacingUnit?: string;
}

export interface Appearance {
  theme?: 'default' | 'night' | 'flat';
  variables?: AppearanceVariables;
}

export interface MountOptions {
  /** `pk_test_…` or `pk_live_…`. */
  publishableKey: string;
  /** The intent's `client_secret`, `pi_…_secret_…`. */
  clientSecret: string;
  /** Default: the page's `lang`, then the browser's languages. */
  locale?: Locale;
  appearance?: Appearance;
  /** The Worker's origin. Default: where the module was loaded from; required when bundled from npm. */
  apiBase?: string;
}

export type IntentStatus =
  | 'requires_payment_method'
  | 'requires_action'
  | 'processing'
  | 'requires_capture'
  | 'succeeded'
  | 'canceled';

export interface CheckoutEventDetail {
  /** The intent's id; empty when the widget could not load it. */
  payment_intent: string;
  /** The intent's status, or `"error"` when the widget could not load it. */
  status: IntentStatus | 'error';
}

/** Dispatched on the target as DOM events `checkout:<name>`, too. */
export type CheckoutEvent = 'ready' | 'succeeded' | 'failed' | 'requires_capture' | 'setup_succeeded';

export interface CheckoutHandle {
  /** Calls `fn` with the event's detail each time the widget dispatches `checkout:<event>`. */
  on(event: CheckoutEvent, fn: (detail: CheckoutEventDetail) => void): CheckoutHandle;
  /** Removes the widget and the listeners added with `on`; polling stops. */
  destroy(): void;
  /** Settles once the widget is interactive; rejects (with the customer's message) when it cannot start. */
  readonly ready: Promise<void>;
}

/** Mounts the checkout into `target` (an element or a selector). */
export function mount(target: Element | string, options: MountOptions): CheckoutHandle;
