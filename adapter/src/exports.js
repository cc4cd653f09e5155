// What the page sees: window.OffloadHub.

// GET /v1/availability with the bot's public id: whether to offer a person at all.
function availability(options) {
  var config = assign({}, DEFAULTS, options);
  var hubUrl = (config.hubUrl || root.location.origin).replace(/\/+$/, '');
  var query = [];
  if (config.queue) query.push('queue=' + encodeURIComponent(config.queue));
  if (config.language) query.push('language=' + encodeURIComponent(config.language));
  if (config.skills) query.push('skills=' + encodeURIComponent([].concat(config.skills).join(',')));
  var fetchImpl = config.fetch || root.fetch.bind(root);
  return fetchImpl(hubUrl + '/v1/availability' + (query.length ? '?' + query.join('&') : ''), {
    headers: {'X-Bot-Id': config.botId},
    mode: 'cors',
    credentials: 'omit'
  }).then(function (response) {
    return response.json().then(function (body) {
      if (!response.ok) throw new HubError(response.status, body);
      return body;
    });
  });
}

// The checkAgents function Inbenta's escalation adapters take: a promise of
// {agentsAvailable}, from the hub's availability.
function checkAgents(options) {
  return function () {
    return availability(options).then(function (answer) {
      return {agentsAvailable: answer.open === true};
    }, function () {
      return {agentsAvailable: false};
    });
  };
}

root.OffloadHub = {
  version: VERSION,
  adapter: adapter,
  availability: availability,
  checkAgents: checkAgents,
  labels: assign({}, LABELS)
};
