// Finch dashboard: the live view.
//
// One WebSocket to /ws carries everything (see docs/dashboard.md). Data arrives as JSON and is
// put into the page as text, never as HTML. A close with 1000 "Token expired" means the session
// is over: the page goes to the login page, which says so. Any other close is a lost
// connection: the page says so, retries with growing pauses, and before each retry checks that
// the session still holds (an expired one lands on the login page with its reason).
'use strict';

(function () {
  var role = document.body.getAttribute('data-role') || 'viewer';
  var mayViewTokens = role === 'operator' || role === 'admin';
  var mayDownloadConfigs = role === 'admin';

  var socket = null;
  var page = 1;
  var search = '';
  var retryDelay = 1000;
  var retryTimer = null;
  var leaving = false;
  var tokens = new Map();   // rid -> {token, expires_at}: panels the user opened
  var messages = new Map(); // rid -> error text shown on the card

  var el = function (id) { return document.getElementById(id); };

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function setStatus(text, bad) {
    var status = el('status');
    if (!text) { status.className = 'status hidden'; status.textContent = ''; return; }
    status.className = bad ? 'status bad' : 'status';
    status.textContent = text;
  }

  // --- connection ---------------------------------------------------------------------------

  function connect() {
    retryTimer = null;
    var scheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
    socket = new WebSocket(scheme + window.location.host + '/ws');
    socket.addEventListener('open', function () {
      retryDelay = 1000;
      setStatus('');
      if (page !== 1 || search !== '') { requestAgents(); }
    });
    socket.addEventListener('message', function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(message);
    });
    socket.addEventListener('close', function (event) {
      socket = null;
      if (leaving) { return; }
      if (event.code === 1000 && event.reason === 'Token expired') {
        leaving = true;
        window.location.assign('/login?error=expired');
        return;
      }
      scheduleRetry();
    });
  }

  function scheduleRetry() {
    var seconds = Math.round(retryDelay / 1000);
    setStatus('Connection lost. Reconnecting in ' + seconds + ' s…', true);
    var jitter = Math.random() * 0.3 * retryDelay;
    retryTimer = window.setTimeout(checkSessionThenConnect, retryDelay + jitter);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  // A refused upgrade looks like any lost connection to a WebSocket; ask the page route, which
  // redirects to the login page (with the reason) when the session is gone.
  function checkSessionThenConnect() {
    setStatus('Reconnecting…', true);
    fetch('/dashboard', { redirect: 'manual', cache: 'no-store', credentials: 'same-origin' })
      .then(function (response) {
        if (response.type === 'opaqueredirect' || response.status === 401) {
          leaving = true;
          window.location.assign('/dashboard');
        } else {
          connect();
        }
      })
      .catch(function () { scheduleRetry(); });
  }

  function send(type, data) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: type, data: data }));
      return true;
    }
    return false;
  }

  function requestAgents() { send('get_agents', { page: page, search: search }); }

  // --- messages -----------------------------------------------------------------------------

  function handle(message) {
    switch (message.type) {
      case 'stats': renderStats(message.data); break;
      case 'endpoints': renderEndpoints(message.data); break;
      case 'agents': renderAgents(message.data); break;
      case 'token':
        tokens.set(message.rid, message.data);
        messages.delete(message.rid);
        refreshCard(message.rid);
        break;
      case 'token_error':
        messages.set(message.rid, 'Token refused: ' + message.error);
        refreshCard(message.rid);
        break;
      case 'config': saveConfig(message); break;
      case 'config_error':
        messages.set(message.rid, 'Config refused: ' + message.error);
        refreshCard(message.rid);
        break;
      default: break;
    }
  }

  function renderStats(stats) {
    Object.keys(stats).forEach(function (key) {
      var node = document.querySelector('[data-stat="' + key + '"]');
      if (node) { node.textContent = String(stats[key]); }
    });
  }

  function renderEndpoints(endpoints) {
    var list = el('endpoint-list');
    list.textContent = '';
    [['Grafana', endpoints.grafana], ['Loki', endpoints.loki], ['Mimir', endpoints.mimir],
     ['Pyroscope', endpoints.pyroscope]].forEach(function (pair) {
      list.appendChild(make('dt', '', pair[0]));
      var dd = make('dd', 'mono');
      dd.appendChild(make('span', '', pair[1]));
      list.appendChild(dd);
    });
  }

  var lastAgents = [];

  function renderAgents(view) {
    page = view.page;
    lastAgents = view.agents;
    var focused = document.activeElement;
    var focusKey = focused && focused.getAttribute ? focused.getAttribute('data-focus-key') : null;
    var container = el('agents');
    container.textContent = '';
    if (view.agents.length === 0) {
      container.appendChild(make('p', 'empty', view.search
        ? 'No agents found matching "' + view.search + '"'
        : 'No agents registered'));
    }
    view.agents.forEach(function (agent) { container.appendChild(card(agent)); });
    el('result-count').textContent = view.total_agents + (view.total_agents === 1 ? ' agent' : ' agents');
    renderPagination(view);
    if (focusKey) {
      var again = document.querySelector('[data-focus-key="' + CSS.escape(focusKey) + '"]');
      if (again) { again.focus(); }
    }
  }

  function refreshCard(rid) {
    var old = document.querySelector('.agent[data-rid="' + CSS.escape(rid) + '"]');
    var agent = lastAgents.find(function (a) { return a.rid === rid; });
    if (old && agent) { old.replaceWith(card(agent)); }
  }

  function renderPagination(view) {
    var nav = el('pagination');
    nav.textContent = '';
    if (view.total_pages <= 1) { return; }
    var prev = make('button', '', '← Previous');
    prev.type = 'button';
    prev.disabled = view.page <= 1;
    prev.setAttribute('data-page', String(view.page - 1));
    prev.setAttribute('data-focus-key', 'page-prev');
    var info = make('span', '', 'Page ' + view.page + ' of ' + view.total_pages);
    info.id = 'page-info';
    var next = make('button', '', 'Next →');
    next.type = 'button';
    next.disabled = view.page >= view.total_pages;
    next.setAttribute('data-page', String(view.page + 1));
    next.setAttribute('data-focus-key', 'page-next');
    nav.appendChild(prev); nav.appendChild(info); nav.appendChild(next);
  }

  var LIVENESS = { active: 'Active', stale: 'Stale', never_seen: 'Never seen' };

  function card(agent) {
    var article = make('article', 'agent');
    article.setAttribute('data-rid', agent.rid);
    var head = make('div', 'agent-head');
    head.appendChild(make('h3', 'agent-hostname', agent.hostname));
    var badge = make('span', 'badge ' + agent.liveness, LIVENESS[agent.liveness] || agent.liveness);
    badge.title = agent.last_seen ? 'Last seen ' + new Date(agent.last_seen).toLocaleString() : 'Never seen';
    head.appendChild(badge);
    var actions = make('div', 'agent-actions');
    if (mayViewTokens) {
      var open = tokens.has(agent.rid);
      var tokenButton = actionButton(open ? 'Hide token' : 'Token', 'show-token', agent.rid);
      tokenButton.setAttribute('aria-expanded', open ? 'true' : 'false');
      actions.appendChild(tokenButton);
    }
    if (mayDownloadConfigs) {
      actions.appendChild(actionButton('Config', 'download-config', agent.rid));
    }
    head.appendChild(actions);
    article.appendChild(head);

    var details = make('dl', 'details');
    addDetail(details, 'Resource ID', agent.rid, 'mono');
    addDetail(details, 'Registered', agent.registered_at ? agent.registered_at + ' UTC' : 'unknown');
    addDetail(details, 'Last seen', agent.last_seen ? new Date(agent.last_seen).toLocaleString() : 'never');
    addDetail(details, 'Node', agent.node);
    var labels = make('dd');
    if (agent.labels.length === 0) { labels.textContent = 'none'; } else { labels.appendChild(chips(agent.labels)); }
    details.appendChild(make('dt', '', 'Labels'));
    details.appendChild(labels);
    article.appendChild(details);

    var features = make('div', 'features');
    features.appendChild(feature('Logs', agent.log_sources.length > 0, agent.log_sources,
      agent.log_sources.length > 0 ? agent.log_sources.length + (agent.log_sources.length === 1 ? ' source' : ' sources') : 'No sources'));
    features.appendChild(feature('Metrics', agent.metrics, agent.metrics ? agent.metrics_targets : [],
      agent.metrics ? 'Enabled' : 'Disabled'));
    features.appendChild(feature('Profiles', agent.profiles, [], agent.profiles ? 'Enabled' : 'Disabled'));
    article.appendChild(features);

    if (messages.has(agent.rid)) {
      var note = make('p', 'agent-message', messages.get(agent.rid));
      note.setAttribute('role', 'alert');
      article.appendChild(note);
    }
    var token = tokens.get(agent.rid);
    if (token) {
      var panel = make('div', 'token-panel');
      panel.setAttribute('data-rid', agent.rid);
      var label = make('label', '', 'Bearer token (expires ' + new Date(token.expires_at).toLocaleString() + ')');
      var area = make('textarea', 'token-value');
      area.readOnly = true;
      area.rows = 3;
      area.value = token.token;
      label.appendChild(area);
      panel.appendChild(label);
      article.appendChild(panel);
    }
    return article;
  }

  function actionButton(text, action, rid) {
    var button = make('button', '', text);
    button.type = 'button';
    button.setAttribute('data-action', action);
    button.setAttribute('data-rid', rid);
    button.setAttribute('data-focus-key', action + ' ' + rid);
    return button;
  }

  function addDetail(list, term, value, className) {
    list.appendChild(make('dt', '', term));
    list.appendChild(make('dd', className || '', value));
  }

  function chips(values) {
    var list = make('ul', 'chips');
    values.forEach(function (value) { list.appendChild(make('li', '', value)); });
    return list;
  }

  function feature(title, on, items, summary) {
    var box = make('div', 'feature');
    box.appendChild(make('h4', '', title));
    box.appendChild(make('div', on ? 'on' : 'off', summary));
    if (items.length > 0) { box.appendChild(chips(items)); }
    return box;
  }

  function saveConfig(message) {
    // Browsers replace ':' in download names anyway; do it ourselves so the name is predictable.
    var name = String(message.filename).replace(/[^A-Za-z0-9._-]/g, '_');
    var blob = new Blob([message.content], { type: 'text/plain' });
    var url = URL.createObjectURL(blob);
    var link = make('a');
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    messages.delete(message.rid);
  }

  // --- user input -----------------------------------------------------------------------------

  document.addEventListener('click', function (event) {
    var target = event.target.closest('button');
    if (!target) { return; }
    var action = target.getAttribute('data-action');
    var rid = target.getAttribute('data-rid');
    if (action === 'show-token') {
      if (tokens.has(rid)) { tokens.delete(rid); refreshCard(rid); } else { send('get_token', { rid: rid }); }
    } else if (action === 'download-config') {
      send('download_config', { rid: rid });
    } else if (target.hasAttribute('data-page') && !target.disabled) {
      page = parseInt(target.getAttribute('data-page'), 10) || 1;
      requestAgents();
    }
  });

  var searchTimer = null;
  el('search').addEventListener('input', function (event) {
    window.clearTimeout(searchTimer);
    var value = event.target.value;
    searchTimer = window.setTimeout(function () {
      search = value.trim();
      page = 1;
      requestAgents();
    }, 200);
  });

  el('show-endpoints').addEventListener('click', function () { el('endpoints').showModal(); });
  el('logout').addEventListener('click', function () { leaving = true; });
  window.addEventListener('beforeunload', function () { leaving = true; });

  connect();
})();
