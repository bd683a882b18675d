#include "modelsummary.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QObject>

#include "attnscope/normalizer_spec.h"

namespace attnscope::gui {
namespace {

/// The first of the keys present (HF configs name the same thing differently per architecture).
int intOf(const QJsonObject& config, std::initializer_list<const char*> keys) {
  for (const char* key : keys)
    if (config.contains(QLatin1String(key))) return config.value(QLatin1String(key)).toInt();
  return 0;
}

}  // namespace

QString ModelSummary::describe() const {
  return QObject::tr("%1 · %2 layers × %3 heads · context %4 · %5 · %6")
      .arg(modelType)
      .arg(n_layer)
      .arg(n_head)
      .arg(n_ctx)
      .arg(ssmaxLearned ? QObject::tr("learned SSMax") : QObject::tr("softmax-trained"))
      .arg(hasTokenizer ? QObject::tr("tokenizer") : QObject::tr("no tokenizer: give token ids"));
}

bool readModelSummary(const QString& dir, ModelSummary* summary, QString* error) {
  const QDir model(dir);
  QFile file(model.filePath(QStringLiteral("config.json")));
  if (!file.open(QIODevice::ReadOnly)) {
    *error = QObject::tr("%1 has no config.json").arg(dir);
    return false;
  }
  QJsonParseError parseError;
  const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parseError);
  if (!document.isObject()) {
    *error = QObject::tr("%1: %2").arg(file.fileName(), parseError.errorString());
    return false;
  }
  const QJsonObject config = document.object();
  summary->modelType = config.value(QLatin1String("model_type")).toString();
  summary->n_layer = intOf(config, {"num_hidden_layers", "n_layer"});
  summary->n_head = intOf(config, {"num_attention_heads", "n_head"});
  summary->n_ctx = intOf(config, {"max_position_embeddings", "n_positions", "n_ctx"});
  summary->ssmaxLearned =
      config.value(QLatin1String("attention_normalizer")).toString() == QLatin1String(kNormalizerSsmax);
  summary->hasTokenizer =
      model.exists(QStringLiteral("tokenizer.json")) ||
      (model.exists(QStringLiteral("vocab.json")) && model.exists(QStringLiteral("merges.txt"))) ||
      config.contains(QLatin1String("attnscope_tokenizer"));
  return true;
}

}  // namespace attnscope::gui
