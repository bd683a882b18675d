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
  const QByteArray bytes = file.readAll();
  const QJsonDocument document = QJsonDocument::fromJson(bytes, &parseError);
  if (parseError.error != QJsonParseError::NoError) {
    // Where it broke, as an editor counts: line and column of the offset.
    const QByteArray before = bytes.left(parseError.offset);
    const qsizetype line = before.count('\n') + 1, column = before.size() - before.lastIndexOf('\n');
    *error = QObject::tr("%1 line %2, column %3: %4 (not valid JSON)")
                 .arg(file.fileName())
                 .arg(line)
                 .arg(column)
                 .arg(parseError.errorString());
    return false;
  }
  if (!document.isObject()) {
    *error = QObject::tr("%1 is not a JSON object").arg(file.fileName());
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
