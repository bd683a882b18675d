#pragma once
// The model of a run: an editable list of the models in the local Hugging Face cache, by id, where a
// directory path or another model id may also be typed, and a Browse… button for a directory. Ids are
// resolved by the core's one resolver (attnscope/hf_cache.h), never on the network.

#include <QString>
#include <QWidget>

class QComboBox;

namespace attnscope::gui {

class ModelChooser : public QWidget {
  Q_OBJECT
 public:
  explicit ModelChooser(QWidget* parent = nullptr);

  /// What was chosen or typed: a directory, a model id (Org/Name) or a listed cached model.
  QString text() const;
  void setText(const QString& text);
  /// The model directory the text names (a cached model's snapshot directory); empty and *error set when the
  /// text names none.
  QString resolvedDirectory(QString* error) const;
  /// A short name for file names: the id's name, or the directory's name.
  QString modelName() const;
  /// Lists the cached models again (the list is filled when the chooser is made).
  void refreshCachedModels();
  /// The editable list (tests read its items).
  QComboBox* combo() const { return m_combo; }

 Q_SIGNALS:
  /// The user finished typing, picked a listed model or browsed to a directory.
  void modelChanged();

 private:
  void browse();

  QComboBox* m_combo;
};

}  // namespace attnscope::gui
