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
  /**
   * The intent's `client_secret`: a payment intent's `pi_…_secret_…`, or a setup
   * intent's `seti_…_secret_…` for save-card mode (Stripe's card field with a "Save card"
   * button; nothing is charged, `setup_succeeded` fires once the card is saved).
   */
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

export type SetupStatus = 'requires_payment_method' | 'requires_action' | 'processing' | 'succeeded' | 'canceled';

/** Payment mode (`pi_…` client secret). */
export interface CheckoutEventDetail {
  /** The intent's id; empty when the widget could not load it. */
  payment_intent: string;
  /** The intent's status, or `"error"` when the widget could not load it. */
  status: IntentStatus | 'error';
}

/** Save-card mode (`seti_…` client secret): `ready`, `failed`, `setup_succeeded`. */
export interface SetupEventDetail {
  /** The setup intent's id, `seti_…`; empty when the widget could not load it. */
  setup_intent: string;
  status: SetupStatus | 'error';
  /** `setup_succeeded` only: the saved card's PaymentMethod, `pm_…` (an id, never card data). */
  payment_method?: string;
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

/** Save-card mode's options: a setup intent's client secret. */
export interface SetupMountOptions extends Omit<MountOptions, 'clientSecret'> {
  clientSecret: `seti_${string}`;
}

/** Save-card mode's events: `ready`, `failed` and `setup_succeeded`. */
export type SetupEvent = 'ready' | 'failed' | 'setup_succeeded';

export interface SetupHandle {
  on(event: SetupEvent, fn: (detail: SetupEventDetail) => void): SetupHandle;
  destroy(): void;
  readonly ready: Promise<void>;
}

/** Mounts the card field with "Save card" for a setup intent (`seti_…_secret_…`). */
export function mount(target: Element | string, options: SetupMountOptions): SetupHandle;
/** Mounts the checkout into `target` (an element or a selector). */
export function mount(target: Element | string, options: MountOptions): CheckoutHandle;
