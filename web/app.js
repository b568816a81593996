// idphoto web page: token, cards, upload or URL, "Clean Photo", before/after preview,
// background colour and photo format (both re-clean), the compliance checklist, card PDF and
// photo sheet downloads. Plain JS, no dependencies, offline.
'use strict';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'idphoto.token';
const state = { cards: [], file: null, fileUrl: null, busy: false };

function token() { return localStorage.getItem(TOKEN_KEY) || ''; }
function setStatus(text) { $('status').textContent = text; }
function setError(text) { $('error').textContent = text || ''; }
function selectedId() { return $('card-select').value; }
function selectedCard() { return state.cards.find((c) => c.id === selectedId()); }

// The error text of a JSON error answer ({"error":{"code","message"}}), else the status.
async function errorText(res) {
  try {
    const b = await res.json();
    if (b && b.error) {
      const photoError = b.card && b.card.photoError ? ` — ${b.card.photoError}` : '';
      return `${b.error.message} (${b.error.code}, HTTP ${res.status})${photoError}`;
    }
  } catch (e) { /* not JSON */ }
  return `HTTP ${res.status}`;
}

async function api(path, opts = {}) {
  const headers = Object.assign({ Authorization: `Bearer ${token()}` }, opts.headers || {});
  const res = await fetch(path, Object.assign({}, opts, { headers }));
  if (!res.ok) throw new Error(await errorText(res));
  return res;
}

// What a failed rule asks of the person taking the photo (one place for these strings).
const RULE_TEXT = {
  one_face: ['One face', 'Only one person may be in the photo.'],
  head_height: ['Head size', 'Use a photo with more room around the head, so the head can be scaled to the format.'],
  eye_line: ['Eye height', 'Use a photo with more room above the head and below the chin.'],
  centring: ['Face centred', 'Face the camera from the middle of the photo.'],
  roll: ['Head straight', 'Hold the head straight, eyes level.'],
  yaw: ['Facing the camera', 'Turn the head to face the camera.'],
  pitch: ['Looking ahead', 'Look straight ahead: chin neither up nor down.'],
  eyes_open: ['Eyes open', 'Keep both eyes open.'],
  mouth_closed: ['Mouth closed', 'Close the mouth: a neutral expression.'],
  sharpness: ['Sharp', 'The photo is blurred: hold the camera still and focus on the face.'],
  exposure: ['Exposure', 'The face is too dark or too bright: use brighter, even light.'],
  lighting_balance: ['Even light', 'One side of the face is darker: light the face evenly from the front.'],
  source_resolution: ['Enough pixels', 'The photo has too few pixels for this format: use a larger photo.'],
  frame_filled: ['Photo fills the frame', 'The photo ends before the frame does: leave room around the head and shoulders.'],
  background_colour: ['Background colour', 'Choose a background colour this format allows.'],
  cutout_confidence: ['Clean cut-out', 'The background removal is unsure: photograph the person in front of a plain background.'],
};
const VERDICT_TEXT = { pass: 'Passes every rule of the format.', warn: 'Usable, with warnings below.', fail: 'Does not meet the format: see the rules below.' };

function fmt(v) {
  if (typeof v !== 'number') return String(v);
  if (Math.abs(v) >= 10) return v.toFixed(0);
  return v !== 0 && Math.abs(v) < 0.01 ? v.toPrecision(2) : v.toFixed(2);
}
// A rule's band for people: "allowed 0.50–0.70", or "at least 96" when it has no upper bound.
function band(r) { return r.max < r.min ? `at least ${fmt(r.min)}` : `allowed ${fmt(r.min)}–${fmt(r.max)}`; }

function showCompliance(card) {
  const list = $('checklist');
  list.textContent = '';
  const report = card && card.photoCompliance;
  if (!report) {
    $('verdict').textContent = card && card.photoSpec === 'none' ? 'Plain cut-out: no format, no checks.' : 'No framed photo yet.';
    return;
  }
  $('verdict').textContent = `${card.photoSpec}: ${report.verdict.toUpperCase()}. ${VERDICT_TEXT[report.verdict] || ''}`;
  $('verdict').className = `verdict ${report.verdict}`;
  for (const r of report.rules) {
    const [name, hint] = RULE_TEXT[r.rule] || [r.rule, ''];
    const li = document.createElement('li');
    li.className = r.pass ? 'pass' : (r.hard ? 'fail' : 'warn');
    li.dataset.rule = r.rule;
    const mark = r.pass ? '✓' : (r.hard ? '✗' : '!');
    li.textContent = `${mark} ${name}: ${fmt(r.value)} (${band(r)})`;
    if (!r.pass && hint) {
      const p = document.createElement('span');
      p.className = 'hint';
      p.textContent = ` — ${hint}`;
      li.append(p);
    }
    list.append(li);
  }
}

function bgValue() {
  const v = document.querySelector('input[name=bg]:checked').value;
  return v === 'custom' ? $('bg-color').value : v;
}

function showCard(card) {
  if (!card) {
    $('raw-img').removeAttribute('src');
    $('clean-img').removeAttribute('src');
    showCompliance(null);
    return;
  }
  if (card.rawPhotoUrl && !state.fileUrl) $('raw-img').src = card.rawPhotoUrl;
  if (card.cleanPhotoUrl) $('clean-img').src = card.cleanPhotoUrl;
  else $('clean-img').removeAttribute('src');
  const warn = card.photoWarning ? `, warning: ${card.photoWarning}` : '';
  setStatus(`${card.fullName}: photo ${card.photoStatus}${warn}`);
  if (card.photoSpec) {
    if (![...$('spec').options].some((o) => o.value === card.photoSpec)) $('spec').append(new Option(card.photoSpec, card.photoSpec));
    $('spec').value = card.photoSpec;
  }
  showCompliance(card);
  if (card.photoStatus === 'failed' && card.photoError) setError(`Cleaning failed: ${card.photoError}`);
}

async function loadCards(selectId) {
  if (!token()) { setStatus('Paste a token first.'); return; }
  try {
    const res = await api('/api/id-cards?limit=100');
    state.cards = (await res.json()).items;
    const sel = $('card-select');
    sel.textContent = '';
    if (!state.cards.length) sel.append(new Option('(no cards yet)', ''));
    for (const c of state.cards) sel.append(new Option(`${c.fullName} — ${c.photoStatus}`, c.id));
    if (selectId) sel.value = selectId;
    setError('');
    showCard(selectedCard());
  } catch (e) {
    setError(`Could not list cards: ${e.message}`);
  }
}

function updateCard(card) {
  const i = state.cards.findIndex((c) => c.id === card.id);
  if (i >= 0) state.cards[i] = card;
  const opt = [...$('card-select').options].find((o) => o.value === card.id);
  if (opt) opt.textContent = `${card.fullName} — ${card.photoStatus}`;
  showCard(card);
}

function setBusy(on) {
  state.busy = on;
  $('clean').disabled = on;
  $('progress').hidden = !on;
  if (on) $('progress').removeAttribute('value');
}

// The photo to send: the chosen file, else the URL (fetched by the server), else the card's
// stored raw photo (so a colour change re-cleans after a page reload too).
async function photoSource() {
  if (state.file) return { file: state.file };
  const url = $('url').value.trim();
  if (url) return { url };
  const card = selectedCard();
  if (card && card.rawPhotoUrl) {
    const res = await fetch(card.rawPhotoUrl);
    if (res.ok) return { file: await res.blob() };
  }
  return null;
}

// Multipart upload with XMLHttpRequest (fetch has no upload progress).
function uploadPhoto(id, blob, bg, spec) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/id-cards/${encodeURIComponent(id)}/photo?bg=${encodeURIComponent(bg)}&spec=${encodeURIComponent(spec)}`);
    xhr.setRequestHeader('Authorization', `Bearer ${token()}`);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) { $('progress').max = e.total; $('progress').value = e.loaded; setStatus(`Uploading… ${Math.round(100 * e.loaded / e.total)}%`); }
    };
    xhr.upload.onload = () => { $('progress').removeAttribute('value'); setStatus('Cleaning…'); };
    xhr.onload = () => resolve(new Response(xhr.responseText, { status: xhr.status, headers: { 'Content-Type': 'application/json' } }));
    xhr.onerror = () => reject(new Error('network error'));
    const form = new FormData();
    form.append('photo', blob, blob.name || 'photo');
    xhr.send(form);
  });
}

async function cleanPhoto() {
  if (state.busy) return;
  setError('');
  const id = selectedId();
  if (!id) { setError('Create or choose a card first.'); return; }
  const src = await photoSource();
  if (!src) { setError('Choose a photo file or enter a photo URL first.'); return; }
  const bg = bgValue();
  const spec = $('spec').value;
  setBusy(true);
  setStatus(src.file ? 'Uploading…' : 'Fetching and cleaning…');
  try {
    const res = src.file
      ? await uploadPhoto(id, src.file, bg, spec)
      : await fetch(`/api/id-cards/${encodeURIComponent(id)}/fetch-and-clean`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token()}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ rawPhotoUrl: src.url, bg, spec }),
      });
    if (res.ok) {
      const card = await res.json();
      if (card.cleanPhotoUrl) $('clean-img').src = `${card.cleanPhotoUrl}`;
      updateCard(card);
      setStatus(`Clean photo ready (background ${bg})${card.photoWarning ? `, warning: ${card.photoWarning}` : ''}.`);
    } else {
      const body = await res.clone().json().catch(() => null);
      if (body && body.card) updateCard(body.card);
      setError(`Cleaning failed: ${await errorText(res)}`);
      setStatus('Cleaning failed.');
    }
  } catch (e) {
    setError(`Cleaning failed: ${e.message}`);
    setStatus('Cleaning failed.');
  } finally {
    setBusy(false);
  }
}

function chooseFile(file) {
  if (!file) return;
  state.file = file;
  if (state.fileUrl) URL.revokeObjectURL(state.fileUrl);
  state.fileUrl = URL.createObjectURL(file);
  $('raw-img').src = state.fileUrl;
  $('clean-img').removeAttribute('src');
  $('file-name').textContent = `Chosen: ${file.name} (${Math.round(file.size / 1024)} KB)`;
  setStatus('Photo chosen; press Clean Photo.');
  setError('');
}

// Downloads an authenticated PDF of the selected card (what: 'Card PDF', 'Photo sheet').
async function downloadPdf(path, name, what) {
  setError('');
  const id = selectedId();
  if (!id) { setError('Choose a card first.'); return; }
  try {
    const res = await api(`/api/id-cards/${encodeURIComponent(id)}/${path}`);
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = `${name}-${id}.pdf`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    setStatus(`${what} downloaded.`);
  } catch (e) {
    setError(`${what} failed: ${e.message}`);
  }
}
const downloadCard = () => downloadPdf(`card.pdf${$('a4').checked ? '?sheet=a4' : ''}`, 'card', 'Card PDF');
const downloadSheet = () => downloadPdf(`photo-sheet.pdf?paper=${encodeURIComponent($('paper').value)}`, 'photos', 'Photo sheet');

function init() {
  $('token').value = token();
  $('token-status').textContent = token() ? 'Token stored in this browser.' : 'No token stored.';
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    localStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('token-status').textContent = 'Token stored in this browser.';
    loadCards();
  });
  $('token-clear').addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    $('token').value = '';
    $('token-status').textContent = 'No token stored.';
  });
  $('create-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    setError('');
    const body = {};
    for (const k of ['fullName', 'idNumber', 'organization', 'role', 'issuedAt', 'expiresAt']) {
      const v = $(`f-${k}`).value.trim();
      if (v) body[k] = v;
    }
    try {
      const res = await api('/api/id-cards', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const card = await res.json();
      $('create-form').reset();
      await loadCards(card.id);
      setStatus(`Card created for ${card.fullName}.`);
    } catch (err) {
      setError(`Could not create the card: ${err.message}`);
    }
  });
  $('refresh').addEventListener('click', () => loadCards(selectedId()));
  $('card-select').addEventListener('change', () => { setError(''); showCard(selectedCard()); });
  $('file').addEventListener('change', () => chooseFile($('file').files[0]));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    chooseFile(e.dataTransfer.files[0]);
  });
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('file').click(); } });
  $('url').addEventListener('input', () => { if ($('url').value.trim()) { state.file = null; $('file-name').textContent = ''; } });
  $('clean').addEventListener('click', cleanPhoto);
  $('download').addEventListener('click', downloadCard);
  $('sheet').addEventListener('click', downloadSheet);
  // A new background colour cleans again, once a card has a photo.
  const recolour = () => { const c = selectedCard(); if (c && c.photoStatus !== 'none') cleanPhoto(); };
  for (const r of document.querySelectorAll('input[name=bg]')) r.addEventListener('change', recolour);
  $('spec').addEventListener('change', recolour);
  $('bg-color').addEventListener('change', () => { document.querySelector('input[name=bg][value=custom]').checked = true; recolour(); });
  if (token()) loadCards();
}

init();
