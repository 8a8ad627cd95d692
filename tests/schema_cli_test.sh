#!/usr/bin/env bash
# End-to-end tests of data schemas through the command line: scikit-learn's iris CSV with its
# counts line skipped, a copy with species names as labels, --hidden, predict giving the names
# back, eval matching shuffled columns by name and refusing renamed ones, test labels mapped
# through the training classes, guidance warnings and hints, bench --layers.
#
# usage: bash tests/schema_cli_test.sh <path-to-dptrain-binary>
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_binary "$@"
harness_start schema-test 60
cd "$TMP" || exit 2
OUT="$TMP/out" ERR="$TMP/err"


# ---- data: scikit-learn's iris.csv (or a 30-row excerpt of it when scikit-learn is absent) ----
SKLEARN_IRIS=/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv
if [[ -r $SKLEARN_IRIS ]]; then
  cp "$SKLEARN_IRIS" iris.csv
else
  { echo "150,4,setosa,versicolor,virginica"
    for r in 5.1,3.5,1.4,0.2,0 5.4,3.9,1.7,0.4,0 5.4,3.7,1.5,0.2,0 5.7,4.4,1.5,0.4,0 \
      5.4,3.4,1.7,0.2,0 5.0,3.0,1.6,0.2,0 4.8,3.1,1.6,0.2,0 5.0,3.2,1.2,0.2,0 5.0,3.5,1.3,0.3,0 \
      4.8,3.0,1.4,0.3,0 7.0,3.2,4.7,1.4,1 5.7,2.8,4.5,1.3,1 5.0,2.0,3.5,1.0,1 6.7,3.1,4.4,1.4,1 \
      5.9,3.2,4.8,1.8,1 6.6,3.0,4.4,1.4,1 5.5,2.4,3.8,1.1,1 6.0,3.4,4.5,1.6,1 5.5,2.6,4.4,1.2,1 \
      5.7,3.0,4.2,1.2,1 6.3,3.3,6.0,2.5,2 7.6,3.0,6.6,2.1,2 6.5,3.2,5.1,2.0,2 6.4,3.2,5.3,2.3,2 \
      6.9,3.2,5.7,2.3,2 7.2,3.2,6.0,1.8,2 7.4,2.8,6.1,1.9,2 7.7,3.0,6.1,2.3,2 6.7,3.1,5.6,2.4,2 \
      6.7,3.0,5.2,2.3,2; do echo "$r"; done; } >iris.csv
fi
# The same rows with a header and species names; a column-shuffled and a renamed copy.
awk -F, 'NR == 1 { print "sepal_length,sepal_width,petal_length,petal_width,species"; next }
  { split("setosa versicolor virginica", n, " "); print $1 "," $2 "," $3 "," $4 "," n[$5 + 1] }' \
  iris.csv >names.csv
awk -F, '{ print $5 "," $4 "," $1 "," $3 "," $2 }' names.csv >shuffled.csv
sed '1s/petal_length/petal_len/' names.csv >renamed.csv
sed '3s/,[a-z]*$/,daisy/' names.csv >daisy.csv
cut -d, -f1-4 names.csv | tail -n +2 >unlabelled.csv  # no header, no label column
TRAIN=(--hidden 16 --normalize standard --epochs 60 --lr 0.01 --batch-size 16)

# ---- the counts line skipped; widths from the data ----
expect "iris with its counts line skipped, --hidden" 0 "model 4-16(relu)-3(softmax)" \
  train --data csv:iris.csv --skip-rows 1 "${TRAIN[@]}" --save idx.dpt
expect "iris class indices: predict writes indices" 0 "wrote" \
  predict --model idx.dpt --data csv:iris.csv --skip-rows 1 --out idx.csv
if [[ $(sed -n 2p idx.csv | cut -d, -f1) == 0 ]]; then ok "first iris row predicted as class 0"
else not_ok "first iris row predicted as class 0" "$(sed -n 2p idx.csv)"; fi

# ---- species names as labels ----
expect "species names train" 0 "final test accuracy" \
  train --data csv:names.csv --test-data csv:shuffled.csv "${TRAIN[@]}" --save names.dpt
if grep -qF "matched by name" err; then ok "test set columns matched by name"
else not_ok "test set columns matched by name" "no note"; fi
expect "predict gives the names back" 0 "wrote" \
  predict --model names.dpt --data csv:names.csv --out pred.csv
right=$(paste -d, <(tail -n +2 names.csv | cut -d, -f5) <(tail -n +2 pred.csv | cut -d, -f1) |
  awk -F, '$1 == $2' | wc -l)
rows=$(($(wc -l <names.csv) - 1))
if grep -q '^setosa,' pred.csv && grep -q '^virginica,' pred.csv && ((right * 10 >= rows * 8)); then
  ok "predicted names match the species ($right of $rows)"
else not_ok "predicted names match the species" "$right of $rows right: $(head -3 pred.csv)"; fi
expect "eval names the classes" 0 "versicolor" eval --model names.dpt --data csv:names.csv
acc=$(grep '^accuracy' out)
expect "eval reorders a column-shuffled CSV" 0 "matched by name" \
  eval --model names.dpt --data csv:shuffled.csv
if [[ $(grep '^accuracy' out) == "$acc" ]]; then ok "shuffled columns: the same accuracy ($acc)"
else not_ok "shuffled columns: the same accuracy" "$acc vs $(grep '^accuracy' out)"; fi
expect "eval refuses a renamed column" 2 "missing petal_length; unexpected petal_len" \
  eval --model names.dpt --data csv:renamed.csv
expect "an unknown label is named with file and line" 2 "daisy.csv: line 3, column 5: label 'daisy'" \
  eval --model names.dpt --data csv:daisy.csv
expect "predict on headerless data of just the features" 0 "wrote" \
  predict --model names.dpt --data csv:unlabelled.csv --out u.csv
cut -d, -f1-3 unlabelled.csv >three.csv
expect "predict on data one column short: the hint" 2 "use --label none" \
  predict --model names.dpt --data csv:three.csv --out u3.csv
if [[ $(tail -n +2 u.csv | cut -d, -f1) == $(tail -n +2 pred.csv | cut -d, -f1) ]]; then
  ok "unlabelled predictions equal the labelled ones"
else not_ok "unlabelled predictions equal the labelled ones" "differ"; fi
expect "resume maps through the checkpoint's classes" 0 "resumed from" \
  train --data csv:shuffled.csv --resume names.dpt --epochs 61

# ---- labels from a separate file ----
cut -d, -f1-4 names.csv >features.csv
cut -d, -f5 names.csv >species.csv
expect "--labels csv:PATH" 0 "final test accuracy" \
  train --data csv:features.csv --labels csv:species.csv --test-data csv:names.csv "${TRAIN[@]}"
head -5 species.csv >short.csv
expect "--labels with a wrong count" 2 "short.csv: has 5 labels for the" \
  train --data csv:features.csv --labels csv:short.csv --hidden 4
expect "--label and --labels together" 2 "not both" \
  train --data csv:features.csv --labels csv:species.csv --label 0 --hidden 4

# ---- widths, guidance ----
expect "--hidden and --layers together" 2 "not both" \
  train --data csv:names.csv --hidden 8 --layers 4,8,3
awk -F, 'NR > 1 { print $1 "," $2 * 1000 "," $3 "," $5 }' names.csv >unscaled.csv
expect "unscaled features: a warning" 0 "add --normalize standard" \
  train --data csv:unscaled.csv --hidden 8 --epochs 1
expect "scaled features: no warning" 0 "params_hash" \
  train --data csv:names.csv --hidden 8 --epochs 1
if grep -q "unit scale" err; then not_ok "no scale warning on iris" "$(cat err)"; else ok "no scale warning on iris"; fi
expect "real-valued labels: the hint" 2 "use --loss mse" \
  train --data csv:iris.csv --skip-rows 1 --label 0 --hidden 8 --epochs 1
expect "--data defaults to fashion-mnist" 2 "Fashion-MNIST" train --epochs 1
expect "bench --layers" 0 "8-16-2" bench --layers 8,16,2 --threads 1 --seconds 0.05 --repeats 1
expect "bench --layers and --models together" 2 "exclusive" bench --layers 8,16,2 --models A

harness_finish
