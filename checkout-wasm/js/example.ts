// A merchant's typed use of the module; `tsc --noEmit` checks it against
// checkout.d.ts in `make test`. The @ts-expect-error lines fail the check if the
// types grow too loose to catch these mistakes.
import { mount, type CheckoutEventDetail, type MountOptions, type SetupEventDetail } from '@edge-checkout/widget';

const options: MountOptions = {
  publishableKey: 'pk_test_123',
  clientSecret: 'pi_123_secret_456',
  locale: 'de',
  appearance: { theme: 'night', variables: { colorPrimary: '#0a7', borderRadius: '4px' } },
  apiBase: 'https://checkout.example',
};

const handle = mount('#checkout', options)
  .on('succeeded', (d: CheckoutEventDetail) => console.log(d.payment_intent, d.status))
  .on('failed', (d) => {
    const status: string = d.status;
    console.warn(status);
  });
handle.ready.then(() => handle.destroy());

// Save-card mode: a setup intent's secret; the saved card's id arrives with setup_succeeded.
const saving = mount('#card', { ...options, clientSecret: 'seti_123_secret_456' })
  .on('setup_succeeded', (d: SetupEventDetail) => console.log(d.setup_intent, d.payment_method))
  .on('failed', (d) => console.warn(d.setup_intent, d.status));
// @ts-expect-error: nothing is paid in save-card mode
saving.on('succeeded', () => {});

// @ts-expect-error: no such theme
mount(document.body, { ...options, appearance: { theme: 'dark' } });
// @ts-expect-error: no such event
handle.on('paid', () => {});
// @ts-expect-error: the client secret is required
mount('#checkout', { publishableKey: 'pk_test_123' });
// @ts-expect-error: a language the widget does not speak
mount('#checkout', { ...options, locale: 'es' });
