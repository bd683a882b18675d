#include "capturedocument.h"

#include <algorithm>
#include <stdexcept>

#include "attnscope/hook_names.h"
#include "attnscope/normalizer_spec.h"
#include "attnscope/untrusted_text.h"
#include "maptiles.h"

namespace attnscope::widgets {

namespace {

/// The first (layer, head) whose map run stores (and other too, when given and possible); (0, 0) if none.
std::pair<int, int> firstHeadWithMap(const RunInfo& run, const RunInfo* other) {
  for (const RunInfo* second : {other, static_cast<const RunInfo*>(nullptr)})
    for (int layer = 0; layer < run.n_layer; ++layer)
      for (int head = 0; head < run.n_head; ++head)
        if (runHasMap(run, layer, head) && (!second || runHasMap(*second, layer, head))) return {layer, head};
  return {0, 0};
}

}  // namespace

CaptureDocument::CaptureDocument(QObject* parent) : QObject(parent) {}

CaptureDocument::~CaptureDocument() = default;

bool CaptureDocument::open(const QString& path) {
  std::shared_ptr<const CaptureFile> file;
  std::vector<RunInfo> runs;
  QStringList tokens, displayTokens;
  try {
    file = CaptureFile::open(path.toStdString());
    runs = file->runs();
    for (const std::string& text : file->tokens().text) {
      tokens << QString::fromStdString(text);
      displayTokens << QString::fromStdString(attnscope::displayToken(text));
    }
  } catch (const std::exception& error) {
    Q_EMIT errorOccurred(QString::fromStdString(error.what()));
    return false;
  }
  if (runs.empty()) {
    Q_EMIT errorOccurred(tr("%1 holds no runs").arg(path));
    return false;
  }
  m_path = path;
  m_file = std::move(file);
  m_runs = std::move(runs);
  m_tokens = std::move(tokens);
  m_displayTokens = std::move(displayTokens);
  m_computed.clear();
  Selection selection;
  selection.run = QString::fromStdString(m_runs.front().name);
  if (m_runs.size() > 1) selection.compareRun = QString::fromStdString(m_runs[1].name);
  selection.query = std::max(0, nTokens() - 1);
  // Open on the first head whose map is stored (in both runs when there are two), so the map views show
  // something; a statistics-only capture stays on layer 0, head 0.
  const auto [layer, head] = firstHeadWithMap(m_runs.front(), m_runs.size() > 1 ? &m_runs[1] : nullptr);
  selection.layer = layer;
  selection.head = head;
  m_selection = clamped(selection);
  Q_EMIT documentChanged();
  Q_EMIT selectionChanged(m_selection);
  return true;
}

void CaptureDocument::close() {
  m_path.clear();
  m_file.reset();
  m_runs.clear();
  m_tokens.clear();
  m_displayTokens.clear();
  m_computed.clear();
  m_selection = {};
  Q_EMIT documentChanged();
  Q_EMIT selectionChanged(m_selection);
}

QStringList CaptureDocument::runNames() const {
  QStringList names;
  for (const RunInfo& run : m_runs) names << QString::fromStdString(run.name);
  return names;
}

const RunInfo* CaptureDocument::runInfo(const QString& name) const {
  const std::string wanted = name.toStdString();
  auto it =
      std::find_if(m_runs.begin(), m_runs.end(), [&](const RunInfo& run) { return run.name == wanted; });
  return it == m_runs.end() ? nullptr : &*it;
}

QString CaptureDocument::displayToken(int i) const {
  if (i < 0 || i >= m_displayTokens.size()) return {};
  return m_displayTokens[i];
}

void CaptureDocument::setSelection(const Selection& selection) {
  const Selection next = clamped(selection);
  if (next == m_selection) return;
  m_selection = next;
  Q_EMIT selectionChanged(m_selection);
}

void CaptureDocument::setRun(const QString& run) {
  Selection next = m_selection;
  // Choosing the compare run as the run swaps the two, so that Compare keeps comparing them.
  if (run == next.compareRun) next.compareRun = next.run;
  next.run = run;
  setSelection(next);
}

void CaptureDocument::setCompareRun(const QString& run) {
  Selection next = m_selection;
  if (run == next.run && !next.compareRun.isEmpty()) next.run = next.compareRun;  // swap, as in setRun
  next.compareRun = run;
  setSelection(next);
}

void CaptureDocument::setHead(int layer, int head) {
  Selection next = m_selection;
  next.layer = layer;
  next.head = head;
  setSelection(next);
}

void CaptureDocument::setQuery(int query) {
  Selection next = m_selection;
  next.query = query;
  setSelection(next);
}

std::string CaptureDocument::patternHook(int layer) {
  return formatHookName(layer, BlockHook::Pattern);
}

std::string CaptureDocument::mapHook(int layer, MapKind kind) {
  return formatHookName(layer, kind == MapKind::Scores ? BlockHook::Scores : BlockHook::Pattern);
}

int64_t CaptureDocument::computedQueries(const QString& run, int layer) const {
  const RunInfo* info = runInfo(run);
  if (!info || !m_file) return 0;
  if (info->complete) return info->n_tokens;
  const QString key = run + QLatin1Char('/') + QString::number(layer);
  if (auto it = m_computed.constFind(key); it != m_computed.constEnd()) return *it;
  int64_t computed = info->n_tokens;
  try {
    computed = readKeyVisibility(*m_file, *info, layer, 0).computed;  // every head's blocks come together
  } catch (const std::exception&) {
    // Unreadable statistics: let the view's own read report the error.
  }
  m_computed.insert(key, computed);
  return computed;
}

QString CaptureDocument::notComputedReason(const QString& run, int layer) const {
  if (!runInfo(run) || computedQueries(run, layer) > 0) return {};
  return tr("Layer %1 of run %2 was not computed: its capture was cancelled before it").arg(layer).arg(run);
}

QString normalizerLabel(const std::string& normalizer) {
  try {
    return QString::fromStdString(parseNormalizer(normalizer).label());
  } catch (const std::invalid_argument&) {
    return QString::fromStdString(normalizer);  // a file from elsewhere: shown as stored
  }
}

bool runHasMap(const RunInfo& run, int layer, int head, MapKind kind) {
  const std::string hook = CaptureDocument::mapHook(layer, kind);
  return std::any_of(run.maps.begin(), run.maps.end(), [&](const MapRequest& map) {
    return map.hook == hook && std::find(map.heads.begin(), map.heads.end(), head) != map.heads.end();
  });
}

bool CaptureDocument::hasMap(const QString& run, int layer, int head, MapKind kind) const {
  const RunInfo* info = runInfo(run);
  return info && runHasMap(*info, layer, head, kind);
}

Selection CaptureDocument::clamped(Selection selection) const {
  const RunInfo* run = runInfo(selection.run);
  if (!run) {
    if (m_runs.empty()) return {};
    selection.run = QString::fromStdString(m_runs.front().name);
    run = &m_runs.front();
  }
  if (selection.compareRun == selection.run || !runInfo(selection.compareRun)) selection.compareRun.clear();
  selection.layer = std::clamp<int>(selection.layer, 0, std::max<int>(0, run->n_layer - 1));
  selection.head = std::clamp<int>(selection.head, 0, std::max<int>(0, run->n_head - 1));
  selection.query = std::clamp(selection.query, 0, std::max(0, nTokens() - 1));
  return selection;
}

}  // namespace attnscope::widgets
