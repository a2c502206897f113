// The stand-in's own words in the languages our widget passes as Stripe.js `locale`
// (real Stripe.js localises its Elements and 3-D Secure frame the same way). Loaded
// by the card field and the 3-D Secure frame; English is the fallback.
window.standInText = (() => {
  const T = {
    de: {
      'Card number': 'Kartennummer', 'Expiry (MM / YY)': 'Ablaufdatum (MM / JJ)', 'Postal code': 'Postleitzahl',
      'Your card number is invalid.': 'Ihre Kartennummer ist ungültig.',
      'Your card number is incomplete.': 'Ihre Kartennummer ist unvollständig.',
      'Test authentication': 'Test-Authentifizierung',
      'Complete authentication': 'Authentifizierung abschließen',
      'Fail authentication': 'Authentifizierung fehlschlagen lassen',
      'A test 3-D Secure challenge: no bank is involved. Choose how the authentication ends; Escape fails it.':
        'Eine 3-D-Secure-Testabfrage: Keine Bank ist beteiligt. Wählen Sie, wie die Authentifizierung endet; Escape lässt sie scheitern.',
    },
    fr: {
      'Card number': 'Numéro de carte', 'Expiry (MM / YY)': 'Expiration (MM / AA)', 'Postal code': 'Code postal',
      'Your card number is invalid.': 'Votre numéro de carte n’est pas valide.',
      'Your card number is incomplete.': 'Votre numéro de carte est incomplet.',
      'Test authentication': 'Authentification de test',
      'Complete authentication': 'Terminer l’authentification',
      'Fail authentication': 'Faire échouer l’authentification',
      'A test 3-D Secure challenge: no bank is involved. Choose how the authentication ends; Escape fails it.':
        'Un test 3-D Secure : aucune banque n’intervient. Choisissez l’issue de l’authentification ; Échap la fait échouer.',
    },
    it: {
      'Card number': 'Numero della carta', 'Expiry (MM / YY)': 'Scadenza (MM / AA)', 'Postal code': 'CAP',
      'Your card number is invalid.': 'Il numero della carta non è valido.',
      'Your card number is incomplete.': 'Il numero della carta è incompleto.',
      'Test authentication': 'Autenticazione di prova',
      'Complete authentication': 'Completa l’autenticazione',
      'Fail authentication': 'Fai fallire l’autenticazione',
      'A test 3-D Secure challenge: no bank is involved. Choose how the authentication ends; Escape fails it.':
        'Una prova 3-D Secure: nessuna banca è coinvolta. Scegli come termina l’autenticazione; Esc la fa fallire.',
    },
    ru: {
      'Card number': 'Номер карты', 'Expiry (MM / YY)': 'Срок действия (ММ / ГГ)', 'Postal code': 'Почтовый индекс',
      'Your card number is invalid.': 'Неверный номер карты.',
      'Your card number is incomplete.': 'Номер карты указан не полностью.',
      'Test authentication': 'Тестовая аутентификация',
      'Complete authentication': 'Завершить аутентификацию',
      'Fail authentication': 'Провалить аутентификацию',
      'A test 3-D Secure challenge: no bank is involved. Choose how the authentication ends; Escape fails it.':
        'Тестовая проверка 3-D Secure: банк не участвует. Выберите, чем закончится аутентификация; Escape — неудача.',
    },
  };
  const lang = (new URLSearchParams(location.hash.slice(1)).get('locale') || 'en').slice(0, 2).toLowerCase();
  const table = T[lang] ?? {};
  document.documentElement.lang = T[lang] ? lang : 'en';
  return (s) => table[s] ?? s;
})();
