"""The dialogs the commands open (save a label, improve the model) and the messages they show."""
