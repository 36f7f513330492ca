// Finch dashboard: sign in from a `/login#token=…` link.
//
// A URL fragment never leaves the browser, so the token reaches Finch only in the body of the
// POST below: not in a proxy's access log, not in the Referer of another site. The fragment is
// removed from the address bar and the history before anything else happens.
'use strict';

(function () {
  var hash = window.location.hash;
  if (!hash || hash.length < 2) {
    return;
  }
  var token = new URLSearchParams(hash.slice(1)).get('token');
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
  if (!token) {
    return;
  }
  var form = document.getElementById('login-form');
  var input = document.getElementById('token');
  if (!form || !input) {
    return;
  }
  input.value = token;
  var message = document.getElementById('login-message');
  if (message) {
    message.textContent = 'Signing in…';
    message.className = 'message info';
  }
  form.submit();
})();
