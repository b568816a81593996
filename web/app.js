// idphoto web page: token, cards, upload or URL, "Clean Photo", before/after preview,
// background colour (re-cleans), card PDF download. Plain JS, no dependencies, offline.
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

function bgValue() {
  const v = document.querySelector('input[name=bg]:checked').value;
  return v === 'custom' ? $('bg-color').value : v;
}

function showCard(card) {
  if (!card) {
    $('raw-img').removeAttribute('src');
    $('clean-img').removeAttribute('src');
    return;
  }
  if (card.rawPhotoUrl && !state.fileUrl) $('raw-img').src = card.rawPhotoUrl;
  if (card.cleanPhotoUrl) $('clean-img').src = card.cleanPhotoUrl;
  else $('clean-img').removeAttribute('src');
  const warn = card.photoWarning ? `, warning: ${card.photoWarning}` : '';
  setStatus(`${card.fullName}: photo ${card.photoStatus}${warn}`);
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
function uploadPhoto(id, blob, bg) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/id-cards/${encodeURIComponent(id)}/photo?bg=${encodeURIComponent(bg)}`);
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
  setBusy(true);
  setStatus(src.file ? 'Uploading…' : 'Fetching and cleaning…');
  try {
    const res = src.file
      ? await uploadPhoto(id, src.file, bg)
      : await fetch(`/api/id-cards/${encodeURIComponent(id)}/fetch-and-clean`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token()}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ rawPhotoUrl: src.url, bg }),
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

async function downloadCard() {
  setError('');
  const id = selectedId();
  if (!id) { setError('Choose a card first.'); return; }
  try {
    const res = await api(`/api/id-cards/${encodeURIComponent(id)}/card.pdf${$('a4').checked ? '?sheet=a4' : ''}`);
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = `card-${id}.pdf`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    setStatus('Card PDF downloaded.');
  } catch (e) {
    setError(`Card PDF failed: ${e.message}`);
  }
}

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
  // A new background colour cleans again, once a card has a photo.
  const recolour = () => { const c = selectedCard(); if (c && c.photoStatus !== 'none') cleanPhoto(); };
  for (const r of document.querySelectorAll('input[name=bg]')) r.addEventListener('change', recolour);
  $('bg-color').addEventListener('change', () => { document.querySelector('input[name=bg][value=custom]').checked = true; recolour(); });
  if (token()) loadCards();
}

init();
